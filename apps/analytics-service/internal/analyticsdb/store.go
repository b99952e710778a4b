// Package analyticsdb stores patient and billing events for analytics in
// PostgreSQL.
package analyticsdb

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
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

const insertEvent = `INSERT INTO patient_events (event_id, event_type, patient_id, occurred_at, age_band, gender)
	VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_id) DO NOTHING`

// Record stores ev once.
func (s *Store) Record(ctx context.Context, ev analytics.Event) (bool, error) {
	tag, err := s.pool.Exec(ctx, insertEvent, ev.ID, ev.Type, ev.PatientID, ev.OccurredAt, ev.AgeBand, ev.Gender)
	if err != nil {
		return false, classify("analyticsdb.record", err)
	}
	return tag.RowsAffected() == 1, nil
}

const insertBilling = `INSERT INTO billing_events (event_id, event_type, account_id, occurred_at, account_version,
	kind, amount_minor, currency, balance_minor) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (event_id) DO NOTHING`

// RecordBilling stores ev once.
func (s *Store) RecordBilling(ctx context.Context, ev analytics.BillingEvent) (bool, error) {
	tag, err := s.pool.Exec(ctx, insertBilling, ev.ID, ev.Type, ev.AccountID, ev.OccurredAt, ev.AccountVersion,
		ev.Kind, ev.AmountMinor, ev.Currency, ev.BalanceMinor)
	if err != nil {
		return false, classify("analyticsdb.record_billing", err)
	}
	return tag.RowsAffected() == 1, nil
}

const insertEvents = `INSERT INTO patient_events (event_id, event_type, patient_id, occurred_at, age_band, gender)
	SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::timestamptz[], $5::text[], $6::text[])
	ON CONFLICT (event_id) DO NOTHING RETURNING event_id::text`

// RecordAll stores evs with one statement (one commit), each once.
func (s *Store) RecordAll(ctx context.Context, evs []analytics.Event) ([]bool, error) {
	n := len(evs)
	ids, types, patients, at, bands, genders := make([]string, n), make([]string, n), make([]string, n),
		make([]time.Time, n), make([]string, n), make([]string, n)
	for i, ev := range evs {
		ids[i], types[i], patients[i], at[i], bands[i], genders[i] = ev.ID, ev.Type, ev.PatientID, ev.OccurredAt, ev.AgeBand, ev.Gender
	}
	isNew, err := inserted(ctx, s.pool, ids, insertEvents, ids, types, patients, at, bands, genders)
	if err != nil {
		return nil, classify("analyticsdb.record_all", err)
	}
	return isNew, nil
}

const insertBillingEvents = `INSERT INTO billing_events (event_id, event_type, account_id, occurred_at, account_version,
	kind, amount_minor, currency, balance_minor)
	SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::timestamptz[], $5::bigint[], $6::text[], $7::bigint[],
		$8::text[], $9::bigint[])
	ON CONFLICT (event_id) DO NOTHING RETURNING event_id::text`

// RecordAllBilling stores evs with one statement (one commit), each once.
func (s *Store) RecordAllBilling(ctx context.Context, evs []analytics.BillingEvent) ([]bool, error) {
	n := len(evs)
	ids, types, accounts, at, versions, kinds, amounts, currencies, balances := make([]string, n), make([]string, n),
		make([]string, n), make([]time.Time, n), make([]int64, n), make([]string, n), make([]int64, n), make([]string, n), make([]int64, n)
	for i, ev := range evs {
		ids[i], types[i], accounts[i], at[i], versions[i] = ev.ID, ev.Type, ev.AccountID, ev.OccurredAt, ev.AccountVersion
		kinds[i], amounts[i], currencies[i], balances[i] = ev.Kind, ev.AmountMinor, ev.Currency, ev.BalanceMinor
	}
	isNew, err := inserted(ctx, s.pool, ids, insertBillingEvents, ids, types, accounts, at, versions, kinds, amounts, currencies, balances)
	if err != nil {
		return nil, classify("analyticsdb.record_all_billing", err)
	}
	return isNew, nil
}

// inserted runs an INSERT … RETURNING event_id and reports, for each of
// ids, whether it is the one occurrence of its id the statement inserted.
func inserted(ctx context.Context, pool *pgxpool.Pool, ids []string, sql string, args ...any) ([]bool, error) {
	rows, _ := pool.Query(ctx, sql, args...)
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	fresh := make(map[string]bool, len(got))
	for _, id := range got {
		fresh[strings.ToLower(id)] = true
	}
	isNew := make([]bool, len(ids))
	for i, id := range ids {
		id = strings.ToLower(id)
		isNew[i] = fresh[id]
		delete(fresh, id) // a second copy in the batch is not new
	}
	return isNew, nil
}

// classify marks a data or constraint error (SQLSTATE classes 22 and 23)
// as analytics.ErrRejected, naming the code and constraint only (the
// message may quote the value), and anything else for the transports.
func classify(op string, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (strings.HasPrefix(pgErr.Code, "22") || strings.HasPrefix(pgErr.Code, "23")) {
		detail := "SQLSTATE " + pgErr.Code
		if pgErr.ConstraintName != "" {
			detail += ", constraint " + pgErr.ConstraintName
		}
		return fmt.Errorf("%s: %w (%s on %s)", op, analytics.ErrRejected, detail, pgErr.TableName)
	}
	return pgdb.Errorf(op+": %w", err)
}

// billingPerDay counts and sums charges and payments per UTC day and
// currency (reversals and adjustments are neither).
const billingPerDay = `SELECT to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, currency,
	count(*) FILTER (WHERE kind = 'CHARGE'), coalesce(sum(amount_minor) FILTER (WHERE kind = 'CHARGE'), 0)::bigint,
	count(*) FILTER (WHERE kind = 'PAYMENT'), coalesce(-sum(amount_minor) FILTER (WHERE kind = 'PAYMENT'), 0)::bigint
	FROM billing_events WHERE event_type = 'ENTRY_POSTED' AND kind IN ('CHARGE', 'PAYMENT')
	GROUP BY day, currency ORDER BY day, currency`

// outstanding sums each account's latest balance (events may arrive in
// any order; the highest account version is the latest).
const outstanding = `SELECT currency, sum(balance_minor)::bigint, count(*) FROM (
	SELECT DISTINCT ON (account_id) currency, balance_minor FROM billing_events
	ORDER BY account_id, account_version DESC) latest
	GROUP BY currency ORDER BY currency`

func (s *Store) billingSummary(ctx context.Context) (analytics.BillingSummary, error) {
	var sum analytics.BillingSummary
	rows, _ := s.pool.Query(ctx, billingPerDay)
	days, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (analytics.BillingDay, error) {
		var d analytics.BillingDay
		err := r.Scan(&d.Date, &d.Currency, &d.Charges, &d.ChargedMinor, &d.Payments, &d.PaidMinor)
		return d, err
	})
	if err != nil {
		return sum, pgdb.Errorf("analyticsdb.billing_summary: %w", err)
	}
	rows, _ = s.pool.Query(ctx, outstanding)
	owed, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (analytics.Outstanding, error) {
		var o analytics.Outstanding
		err := r.Scan(&o.Currency, &o.Minor, &o.Accounts)
		return o, err
	})
	if err != nil {
		return sum, pgdb.Errorf("analyticsdb.billing_summary: %w", err)
	}
	return analytics.BillingSummary{PerDay: days, Outstanding: owed}, nil
}

const createdPerDay = `SELECT to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, count(*)
	FROM patient_events WHERE event_type = 'PATIENT_CREATED'
	GROUP BY day ORDER BY day`

const totals = `SELECT count(*) FILTER (WHERE event_type = 'PATIENT_CREATED'),
	count(*) FILTER (WHERE event_type = 'PATIENT_UPDATED'),
	count(DISTINCT patient_id) FILTER (WHERE event_type = 'PATIENT_DELETED')
	FROM patient_events`

// createdBy counts creations by the value of one attribute column.
const createdBy = `SELECT %s, count(*) FROM patient_events
	WHERE event_type = 'PATIENT_CREATED' GROUP BY 1 ORDER BY 1`

// Summary counts creations (in total, per UTC day, per age band and per
// gender), updates and deletions.
func (s *Store) Summary(ctx context.Context) (analytics.Summary, error) {
	rows, _ := s.pool.Query(ctx, createdPerDay)
	days, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (analytics.DayCount, error) {
		var d analytics.DayCount
		err := r.Scan(&d.Date, &d.Count)
		return d, err
	})
	if err != nil {
		return analytics.Summary{}, pgdb.Errorf("analyticsdb.summary: %w", err)
	}
	sum := analytics.Summary{CreatedPerDay: days}
	if sum.CreatedByAgeBand, err = s.createdBy(ctx, "age_band"); err != nil {
		return analytics.Summary{}, err
	}
	if sum.CreatedByGender, err = s.createdBy(ctx, "gender"); err != nil {
		return analytics.Summary{}, err
	}
	if sum.Billing, err = s.billingSummary(ctx); err != nil {
		return analytics.Summary{}, err
	}
	err = s.pool.QueryRow(ctx, totals).Scan(&sum.TotalPatientsCreated, &sum.TotalUpdates, &sum.TotalPatientsDeleted)
	if err != nil {
		return analytics.Summary{}, pgdb.Errorf("analyticsdb.summary: %w", err)
	}
	return sum, nil
}

// createdBy counts creations by column, a constant of this package.
func (s *Store) createdBy(ctx context.Context, column string) ([]analytics.GroupCount, error) {
	rows, _ := s.pool.Query(ctx, fmt.Sprintf(createdBy, pgx.Identifier{column}.Sanitize()))
	groups, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (analytics.GroupCount, error) {
		var g analytics.GroupCount
		err := r.Scan(&g.Value, &g.Count)
		return g, err
	})
	if err != nil {
		return nil, pgdb.Errorf("analyticsdb.summary by %s: %w", column, err)
	}
	if column == "age_band" {
		sortBands(groups)
	}
	return groups, nil
}

// sortBands orders age bands youngest first ("" last), not as text.
func sortBands(groups []analytics.GroupCount) {
	rank := func(v string) int {
		if i := slices.Index(analytics.AgeBands, v); i >= 0 {
			return i
		}
		return len(analytics.AgeBands)
	}
	slices.SortFunc(groups, func(a, b analytics.GroupCount) int { return rank(a.Value) - rank(b.Value) })
}
