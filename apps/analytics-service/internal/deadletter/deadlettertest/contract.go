package deadlettertest

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/apps/analytics-service/internal/deadletter"
)

// StoreContract is what every deadletter.Store must do, run against the
// store newStore returns (empty each time): letters are parked once with
// the reason noted for them, listed by topic and id, taken off the list
// when redriven or discarded and back on it when they fail again. The
// in-memory Store and the PostgreSQL one both run it.
func StoreContract(t *testing.T, newStore func(t *testing.T) deadletter.Store) {
	store := newStore(t)
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

	// Discarded: off the pending list, never taken twice; back again,
	// pending anew.
	took, err := store.MarkDiscarded(ctx, []string{got.ID, uuid.NewString()}, "a test event")
	require.NoError(t, err)
	assert.Equal(t, []string{got.ID}, took)
	took, err = store.MarkDiscarded(ctx, []string{got.ID}, "again")
	require.NoError(t, err)
	assert.Empty(t, took)
	depth, err = store.Depth(ctx)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"patient": 0, "billing": 1}, depth)
	require.NoError(t, store.Park(ctx, first))
	again, err = store.Pending(ctx, "patient", nil)
	require.NoError(t, err)
	require.Len(t, again, 1, "a discarded letter dead-lettered again is pending anew")

	require.NoError(t, store.Audit(ctx, "admin-1", "dead-letters.redrive", "patient", []string{got.ID}))
	require.NoError(t, store.Audit(ctx, "admin-1", "dead-letters.list", "", nil))
}
