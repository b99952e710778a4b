package analyticsdb_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/apps/analytics-service/internal/analytics"
	"github.com/pms-dapr/pms/apps/analytics-service/internal/analyticsdb"
	"github.com/pms-dapr/pms/apps/analytics-service/internal/deadletter"
)

// Dead letters are parked once with the reason noted for them, listed by
// topic and id, taken off the list when redriven and back on it when they
// fail again; the audit trail only grows. All as the runtime role.
func TestDeadLettersAsTheRuntimeRole(t *testing.T) {
	pool := template.Pool(t)
	store := analyticsdb.New(pool).DeadLetters()
	ctx := context.Background()
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

	require.NoError(t, store.NoteDrop(ctx, "patient", "ce-1", "malformed"))
	require.NoError(t, store.NoteDrop(ctx, "patient", "ce-1", "malformed, twice"), "a second drop replaces the reason")
	first := deadletter.Letter{Topic: "patient", CloudEventID: "ce-1", EventID: uuid.NewString(), Type: "pms.patient.v1.PatientEvent",
		OccurredAt: at, PartitionKey: "p-1", Data: []byte(`{"eventId":"x"}`)}
	require.NoError(t, store.Park(ctx, first))
	require.NoError(t, store.Park(ctx, first), "a second copy of a pending letter")
	require.NoError(t, store.Park(ctx, deadletter.Letter{Topic: "billing", CloudEventID: "ce-2", Data: []byte(`{}`)}))

	all, err := store.Pending(ctx, "", nil)
	require.NoError(t, err)
	require.Len(t, all, 2)
	got := all[0]
	assert.Equal(t, "malformed, twice", got.Reason)
	assert.Equal(t, first.EventID, got.EventID)
	assert.True(t, at.Equal(got.OccurredAt))
	assert.Equal(t, "p-1", got.PartitionKey)
	assert.Equal(t, first.Data, got.Data)
	assert.Equal(t, deadletter.NoReason, all[1].Reason)
	assert.True(t, all[1].OccurredAt.IsZero())

	billing, err := store.Pending(ctx, "billing", nil)
	require.NoError(t, err)
	require.Len(t, billing, 1)
	byID, err := store.Pending(ctx, "", []string{got.ID})
	require.NoError(t, err)
	require.Len(t, byID, 1)

	require.NoError(t, store.MarkRedriven(ctx, got.ID))
	depth, err := store.Depth(ctx)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"patient": 0, "billing": 1}, depth)

	// It fails again after the redrive: pending again, with the new reason.
	require.NoError(t, store.NoteDrop(ctx, "patient", "ce-1", "still malformed"))
	require.NoError(t, store.Park(ctx, first))
	again, err := store.Pending(ctx, "patient", nil)
	require.NoError(t, err)
	require.Len(t, again, 1)
	assert.Equal(t, got.ID, again[0].ID)
	assert.Equal(t, "still malformed", again[0].Reason)

	// Discarded: off the pending list, reason kept, never taken twice; back
	// again, pending anew.
	took, err := store.MarkDiscarded(ctx, []string{got.ID, uuid.NewString()}, "a test event")
	require.NoError(t, err)
	assert.Equal(t, []string{got.ID}, took)
	took, err = store.MarkDiscarded(ctx, []string{got.ID}, "again")
	require.NoError(t, err)
	assert.Empty(t, took)
	var reason string
	require.NoError(t, pool.QueryRow(ctx, `SELECT discard_reason FROM dead_letters WHERE id = $1`, got.ID).Scan(&reason))
	assert.Equal(t, "a test event", reason)
	depth, err = store.Depth(ctx)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"patient": 0, "billing": 1}, depth)
	require.NoError(t, store.Park(ctx, first))
	again, err = store.Pending(ctx, "patient", nil)
	require.NoError(t, err)
	require.Len(t, again, 1, "a discarded letter dead-lettered again is pending anew")

	require.NoError(t, store.Audit(ctx, "admin-1", "dead-letters.redrive", "patient", []string{got.ID}))
	require.NoError(t, store.Audit(ctx, "admin-1", "dead-letters.list", "", nil))
	_, err = pool.Exec(ctx, `UPDATE dead_letter_audit SET actor = 'x'`)
	assert.Error(t, err, "the audit trail is append-only")
	_, err = pool.Exec(ctx, `DELETE FROM dead_letters`)
	assert.Error(t, err, "the runtime role never deletes a dead letter")
}

// What the database refuses for what an event holds is ErrRejected (the
// consumer dead-letters it); naming the code, never the value.
func TestDataErrorsAreRejections(t *testing.T) {
	store := analyticsdb.New(template.Pool(t))
	_, err := store.Record(context.Background(), analytics.Event{ID: uuid.NewString(), Type: "PATIENT_CREATED",
		PatientID: "Ada Lovelace", OccurredAt: time.Now()})
	require.ErrorIs(t, err, analytics.ErrRejected)
	assert.Contains(t, err.Error(), "SQLSTATE 22P02")
	assert.NotContains(t, err.Error(), "Ada")
}
