package patientdb

import (
	"context"
	"time"

	"github.com/pms-dapr/pms/platform/pgdb"
)

// Retention of bookkeeping rows.
const (
	// IdempotencyWindow is how long a create's Idempotency-Key is honoured.
	IdempotencyWindow = 24 * time.Hour
	// SentEventRetention is how long published outbox rows are kept (for
	// looking into delivery problems) before they are removed.
	SentEventRetention = 7 * 24 * time.Hour
	// ImportRetention is how long a finished import's status and error
	// file are kept (its manifest's Expires).
	ImportRetention = 30 * 24 * time.Hour
)

// Removed counts what Housekeep removed.
type Removed struct{ Keys, Events, Imports int64 }

// Housekeep removes idempotency keys older than IdempotencyWindow,
// published outbox rows older than SentEventRetention and imports
// finished longer than ImportRetention ago (their error files with them).
// Unpublished events, imports still running and patient data are never
// touched.
func (s *Store) Housekeep(ctx context.Context, now time.Time) (Removed, error) {
	var r Removed
	for _, step := range []struct {
		sql   string
		since time.Duration
		n     *int64
	}{
		{`DELETE FROM idempotency_keys WHERE created_at < $1`, IdempotencyWindow, &r.Keys},
		{`DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < $1`, SentEventRetention, &r.Events},
		{`DELETE FROM import_jobs WHERE finished_at < $1`, ImportRetention, &r.Imports},
	} {
		tag, err := s.pool.Exec(ctx, step.sql, now.Add(-step.since))
		if err != nil {
			return r, pgdb.Errorf("patientdb.housekeep: %w", err)
		}
		*step.n = tag.RowsAffected()
	}
	return r, nil
}
