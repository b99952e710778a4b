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
	"github.com/pms-dapr/pms/apps/analytics-service/internal/deadletter/deadlettertest"
)

func TestPostgresStoreMeetsTheStoreContract(t *testing.T) {
	deadlettertest.StoreContract(t, func(t *testing.T) deadletter.Store { return analyticsdb.New(template.Pool(t)).DeadLetters() })
}

// As the runtime role: a discard keeps its reason, the audit trail only
// grows and no dead letter is ever deleted.
func TestDeadLettersAsTheRuntimeRole(t *testing.T) {
	pool := template.Pool(t)
	store := analyticsdb.New(pool).DeadLetters()
	ctx := context.Background()
	require.NoError(t, store.Park(ctx, deadletter.Letter{Topic: "patient", CloudEventID: "ce-1", Data: []byte(`{}`)}))
	pending, err := store.Pending(ctx, "", nil)
	require.NoError(t, err)
	require.Len(t, pending, 1)
	id := pending[0].ID
	took, err := store.MarkDiscarded(ctx, []string{id}, "a test event")
	require.NoError(t, err)
	assert.Equal(t, []string{id}, took)
	var reason string
	require.NoError(t, pool.QueryRow(ctx, `SELECT discard_reason FROM dead_letters WHERE id = $1`, id).Scan(&reason))
	assert.Equal(t, "a test event", reason)

	require.NoError(t, store.Audit(ctx, "admin-1", "dead-letters.redrive", "patient", []string{id}))
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
