package identitydb

import (
	"context"
	"crypto/sha256"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pms-dapr/pms/platform/pgdb"
)

// Failures is the identity.FailureLog every auth-service replica shares,
// so a throttle counts every failure however logins are balanced.
type Failures struct{ pool *pgxpool.Pool }

// NewFailures returns the failure log on pool.
func NewFailures(pool *pgxpool.Pool) *Failures { return &Failures{pool: pool} }

// keepFailuresFor is how long failures are kept at all (longer than any
// throttle window).
const keepFailuresFor = time.Hour

func keyHash(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

// Recent implements identity.FailureLog.
func (f *Failures) Recent(ctx context.Context, key string, since time.Time, limit int) ([]time.Time, error) {
	rows, _ := f.pool.Query(ctx, `SELECT at FROM login_failures WHERE key_hash = $1 AND at > $2
		ORDER BY at DESC LIMIT $3`, keyHash(key), since, limit)
	times, err := pgx.CollectRows(rows, pgx.RowTo[time.Time])
	if err != nil {
		return nil, pgdb.Errorf("identitydb.recent_failures: %w", err)
	}
	return times, nil
}

// Add implements identity.FailureLog, and drops failures too old to count.
func (f *Failures) Add(ctx context.Context, key string, at time.Time) error {
	err := pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO login_failures (key_hash, at) VALUES ($1, $2)`, keyHash(key), at); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM login_failures WHERE at < $1`, at.Add(-keepFailuresFor))
		return err
	})
	if err != nil {
		return pgdb.Errorf("identitydb.add_failure: %w", err)
	}
	return nil
}

// Clear implements identity.FailureLog.
func (f *Failures) Clear(ctx context.Context, key string) error {
	if _, err := f.pool.Exec(ctx, `DELETE FROM login_failures WHERE key_hash = $1`, keyHash(key)); err != nil {
		return pgdb.Errorf("identitydb.clear_failures: %w", err)
	}
	return nil
}
