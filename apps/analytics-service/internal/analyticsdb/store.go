// Package analyticsdb stores patient events for analytics in PostgreSQL.
package analyticsdb

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pms-dapr/pms/apps/analytics-service/internal/analytics"
	"github.com/pms-dapr/pms/platform/pgdb"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the schema migrations, applied at start.
func Migrations() fs.FS { return pgdb.Dir(migrationFiles) }

// Store implements analytics.Store.
type Store struct{ pool *pgxpool.Pool }

// New returns a Store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

const insertEvent = `INSERT INTO patient_events (event_id, event_type, patient_id, occurred_at)
	VALUES ($1, $2, $3, $4) ON CONFLICT (event_id) DO NOTHING`

// Record stores ev once.
func (s *Store) Record(ctx context.Context, ev analytics.Event) (bool, error) {
	tag, err := s.pool.Exec(ctx, insertEvent, ev.ID, ev.Type, ev.PatientID, ev.OccurredAt)
	if err != nil {
		return false, fmt.Errorf("analyticsdb.record: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

const createdPerDay = `SELECT to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, count(*)
	FROM patient_events WHERE event_type = 'PATIENT_CREATED'
	GROUP BY day ORDER BY day`

const totals = `SELECT count(*) FILTER (WHERE event_type = 'PATIENT_CREATED'),
	count(*) FILTER (WHERE event_type = 'PATIENT_UPDATED'),
	count(DISTINCT patient_id) FILTER (WHERE event_type = 'PATIENT_DELETED')
	FROM patient_events`

// Summary counts creations (in total and per UTC day), updates and
// deletions.
func (s *Store) Summary(ctx context.Context) (analytics.Summary, error) {
	rows, _ := s.pool.Query(ctx, createdPerDay)
	days, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (analytics.DayCount, error) {
		var d analytics.DayCount
		err := r.Scan(&d.Date, &d.Count)
		return d, err
	})
	if err != nil {
		return analytics.Summary{}, fmt.Errorf("analyticsdb.summary: %w", err)
	}
	sum := analytics.Summary{CreatedPerDay: days}
	err = s.pool.QueryRow(ctx, totals).Scan(&sum.TotalPatientsCreated, &sum.TotalUpdates, &sum.TotalPatientsDeleted)
	if err != nil {
		return analytics.Summary{}, fmt.Errorf("analyticsdb.summary: %w", err)
	}
	return sum, nil
}
