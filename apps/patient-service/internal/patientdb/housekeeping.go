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
)

// Housekeep removes idempotency keys older than IdempotencyWindow and
// published outbox rows older than SentEventRetention. Unpublished events
// and patient data are never touched.
func (s *Store) Housekeep(ctx context.Context, now time.Time) (keys, events int64, err error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE created_at < $1`, now.Add(-IdempotencyWindow))
	if err != nil {
		return 0, 0, pgdb.Errorf("patientdb.housekeep: %w", err)
	}
	keys = tag.RowsAffected()
	tag, err = s.pool.Exec(ctx, `DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < $1`, now.Add(-SentEventRetention))
	if err != nil {
		return keys, 0, pgdb.Errorf("patientdb.housekeep: %w", err)
	}
	return keys, tag.RowsAffected(), nil
}
