package analyticsdb_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/apps/analytics-service/internal/analytics"
	"github.com/pms-dapr/pms/apps/analytics-service/internal/analyticsdb"
)

// A batch is stored with one statement in one transaction: each event once,
// whether it was stored before or repeats within the batch, and every
// field intact.
func TestRecordAllStoresABatchInOneCommit(t *testing.T) {
	pool := template.Pool(t)
	store := analyticsdb.New(pool)
	ctx := context.Background()
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	ev := func() analytics.Event {
		return analytics.Event{ID: uuid.NewString(), Type: "PATIENT_CREATED", PatientID: uuid.NewString(), OccurredAt: at, AgeBand: "30-44", Gender: "female"}
	}
	old := ev()
	_, err := store.Record(ctx, old)
	require.NoError(t, err)
	a, b := ev(), ev()
	upper := ev()
	upper.ID = strings.ToUpper(upper.ID)
	isNew, err := store.RecordAll(ctx, []analytics.Event{a, old, b, a, upper})
	require.NoError(t, err)
	assert.Equal(t, []bool{true, false, true, false, true}, isNew)

	var n, commits int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT xmin::text) FROM patient_events WHERE event_id = ANY($1::uuid[])`,
		[]string{a.ID, b.ID, upper.ID}).Scan(&n, &commits))
	assert.Equal(t, 3, n)
	assert.Equal(t, 1, commits, "one transaction")
	var got analytics.Event
	require.NoError(t, pool.QueryRow(ctx, `SELECT event_id::text, event_type, patient_id::text, occurred_at, age_band, gender FROM patient_events WHERE event_id = $1`, b.ID).
		Scan(&got.ID, &got.Type, &got.PatientID, &got.OccurredAt, &got.AgeBand, &got.Gender))
	got.OccurredAt = got.OccurredAt.UTC()
	assert.Equal(t, b, got)

	bill := analytics.BillingEvent{ID: uuid.NewString(), Type: "ENTRY_POSTED", AccountID: uuid.NewString(), OccurredAt: at,
		AccountVersion: 2, Kind: "CHARGE", AmountMinor: 500, Currency: "USD", BalanceMinor: 500}
	isNew, err = store.RecordAllBilling(ctx, []analytics.BillingEvent{bill, bill})
	require.NoError(t, err)
	assert.Equal(t, []bool{true, false}, isNew)
	sum, err := store.Summary(ctx)
	require.NoError(t, err)
	assert.Equal(t, []analytics.Outstanding{{Currency: "USD", Minor: 500, Accounts: 1}}, sum.Billing.Outstanding)
}

// An event the database refuses fails the whole statement as rejected, and
// the domain then stores the others on their own: only it fails.
func TestARejectedEventFailsAloneInABatch(t *testing.T) {
	db := template.Clone(t)
	pool := db.Pool
	store := analyticsdb.New(pool)
	ctx := context.Background()
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	refused := uuid.NewString()
	owner, err := pgx.Connect(ctx, db.OwnerURL)
	require.NoError(t, err)
	defer owner.Close(ctx)
	_, err = owner.Exec(ctx, `ALTER TABLE patient_events ADD CONSTRAINT test_refused CHECK (patient_id <> '`+refused+`')`)
	require.NoError(t, err)
	evs := []analytics.Event{
		{ID: uuid.NewString(), Type: "PATIENT_CREATED", PatientID: uuid.NewString(), OccurredAt: at},
		{ID: uuid.NewString(), Type: "PATIENT_CREATED", PatientID: refused, OccurredAt: at},
		{ID: uuid.NewString(), Type: "PATIENT_UPDATED", PatientID: uuid.NewString(), OccurredAt: at},
	}
	_, err = store.RecordAll(ctx, evs)
	require.ErrorIs(t, err, analytics.ErrRejected)
	assert.Contains(t, err.Error(), "23514")

	res := analytics.NewService(store).RecordAll(ctx, append(evs, analytics.Event{ID: "not-a-uuid"}))
	assert.Equal(t, analytics.Result{New: true}, res[0])
	assert.ErrorIs(t, res[1].Err, analytics.ErrRejected)
	assert.Equal(t, analytics.Result{New: true}, res[2])
	assert.True(t, errors.Is(res[3].Err, analytics.ErrMalformed), "validated before it reaches the database")
	var n int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM patient_events`).Scan(&n))
	assert.Equal(t, 2, n)
}
