package patientdb_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/pms-dapr/pms/apps/patient-service/internal/outbox"
	"github.com/pms-dapr/pms/apps/patient-service/internal/patient"
	"github.com/pms-dapr/pms/apps/patient-service/internal/patientdb"
	"github.com/pms-dapr/pms/platform/pgtest"
	patientv1 "github.com/pms-dapr/pms/proto/patient/v1"
)

var template = pgtest.NewTemplate(patientdb.Migrations())

func newPatient(email string) (patient.Patient, patient.Event) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	p := patient.Patient{
		ID: uuid.NewString(), Name: "Ada", Email: email, Address: "x",
		DateOfBirth:    time.Date(1985, 12, 10, 0, 0, 0, 0, time.UTC),
		RegisteredDate: time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC),
		Version:        1, CreatedAt: now, UpdatedAt: now,
	}
	return p, patient.Event{ID: uuid.NewString(), Type: patient.EventCreated, Patient: p, OccurredAt: now}
}

func count(t *testing.T, pool *pgxpool.Pool, sql string) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(context.Background(), sql).Scan(&n))
	return n
}

func TestCreateGetRoundTrip(t *testing.T) {
	pool := template.Pool(t)
	store := patientdb.New(pool)
	ctx := context.Background()
	p, ev := newPatient("ada@example.com")
	require.NoError(t, store.Create(ctx, p, ev))

	got, err := store.Get(ctx, p.ID)
	require.NoError(t, err)
	assert.Equal(t, p, got)

	_, err = store.Get(ctx, uuid.NewString())
	assert.ErrorIs(t, err, patient.ErrNotFound)
}

func TestDuplicateEmailWritesNothing(t *testing.T) {
	pool := template.Pool(t)
	store := patientdb.New(pool)
	ctx := context.Background()
	p, ev := newPatient("ada@example.com")
	require.NoError(t, store.Create(ctx, p, ev))

	dup, dupEv := newPatient("ADA@Example.com")
	err := store.Create(ctx, dup, dupEv)
	assert.ErrorIs(t, err, patient.ErrEmailTaken)
	assert.Equal(t, 1, count(t, pool, `SELECT count(*) FROM patients`))
	assert.Equal(t, 1, count(t, pool, `SELECT count(*) FROM outbox`), "no event for the rejected patient")
}

func TestBillingAccountBookkeeping(t *testing.T) {
	pool := template.Pool(t)
	store := patientdb.New(pool)
	ctx := context.Background()
	a, aev := newPatient("a@example.com")
	b, bev := newPatient("b@example.com")
	require.NoError(t, store.Create(ctx, a, aev))
	require.NoError(t, store.Create(ctx, b, bev))

	missing, err := store.MissingBillingAccount(ctx, 10)
	require.NoError(t, err)
	assert.Len(t, missing, 2)

	require.NoError(t, store.SetBillingAccount(ctx, a.ID, "acct-a"))
	require.NoError(t, store.SetBillingAccount(ctx, a.ID, "acct-other"), "a second answer is ignored")
	got, _ := store.Get(ctx, a.ID)
	assert.Equal(t, "acct-a", got.BillingAccountID)

	missing, err = store.MissingBillingAccount(ctx, 10)
	require.NoError(t, err)
	require.Len(t, missing, 1)
	assert.Equal(t, b.ID, missing[0].ID)
}

func TestPublishPendingDeliversInOrderAndStopsAtFailure(t *testing.T) {
	pool := template.Pool(t)
	store := patientdb.New(pool)
	ctx := context.Background()
	var ids []string
	for _, email := range []string{"1@example.com", "2@example.com", "3@example.com"} {
		p, ev := newPatient(email)
		require.NoError(t, store.Create(ctx, p, ev))
		ids = append(ids, ev.ID)
	}

	var seen []string
	n, err := store.PublishPending(ctx, 10, func(_ context.Context, m outbox.Message) error {
		if len(seen) == 1 {
			return errors.New("broker down")
		}
		seen = append(seen, m.EventID)
		var ev patientv1.PatientEvent
		require.NoError(t, protojson.Unmarshal([]byte(m.Payload), &ev))
		assert.Equal(t, patientv1.EventType_PATIENT_CREATED, ev.GetType())
		assert.Equal(t, m.EventID, ev.GetEventId())
		assert.Equal(t, m.Key, ev.GetPatient().GetId(), "partitioned by patient")
		assert.Equal(t, "1985-12-10", ev.GetPatient().GetDateOfBirth())
		assert.Equal(t, patientdb.Topic, m.Topic)
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Equal(t, ids[:1], seen)
	assert.Equal(t, 2, count(t, pool, `SELECT count(*) FROM outbox WHERE sent_at IS NULL`))
	assert.Equal(t, 1, count(t, pool, `SELECT count(*) FROM outbox WHERE last_error = 'broker down'`))

	seen = nil
	n, err = store.PublishPending(ctx, 10, func(_ context.Context, m outbox.Message) error {
		seen = append(seen, m.EventID)
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.Equal(t, ids[1:], seen, "the failed event is retried first")
	assert.Equal(t, 0, count(t, pool, `SELECT count(*) FROM outbox WHERE sent_at IS NULL`))
}
