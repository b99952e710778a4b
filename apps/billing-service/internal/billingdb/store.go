// Package billingdb stores billing accounts, their ledgers and the billing
// audit trail in PostgreSQL.
package billingdb

import (
	"context"
	"embed"
	"errors"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pms-dapr/pms/apps/billing-service/internal/billing"
	"github.com/pms-dapr/pms/apps/billing-service/internal/billingevents"
	"github.com/pms-dapr/pms/platform/outbox"
	"github.com/pms-dapr/pms/platform/pgdb"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the schema migrations, applied at start.
func Migrations() fs.FS { return pgdb.Dir(migrationFiles) }

// Store implements billing.Store.
type Store struct{ pool *pgxpool.Pool }

// New returns a Store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

const accountColumns = `id, patient_id, status, currency, balance_minor, entry_count, version, created_at, updated_at`

// insertAccount opens the account, CLOSED if its patient's deletion came
// first, unless the patient has one.
const insertAccount = `INSERT INTO billing_accounts (` + accountColumns + `)
	SELECT $1, $2, CASE WHEN EXISTS (SELECT 1 FROM deleted_patients WHERE patient_id = $2) THEN 'CLOSED' ELSE $3 END,
		$4, $5, $6, $7, $8, $9
	ON CONFLICT (patient_id) DO NOTHING
	RETURNING status`

// Open inserts c.Account with its audit entry, or returns the patient's
// existing account. Its statements go to the server in one round trip and
// commit together (a batch is one implicit transaction); each sees what
// the one before it did, so the audit entry is written only with the
// account.
func (s *Store) Open(ctx context.Context, c billing.Change) (billing.Account, bool, error) {
	a := &c.Account
	b := &pgx.Batch{}
	b.Queue(lockPatientSQL, a.PatientID)
	b.Queue(insertAccount, a.ID, a.PatientID, a.Status, a.Currency, a.Balance, a.EntryCount, a.Version, a.CreatedAt, a.UpdatedAt)
	e := c.Audit
	b.Queue(insertOpeningAudit, e.At, e.UserID, e.Role, e.Action, orEmpty(e.AccountIDs), e.EntryID, e.RequestID, e.Outcome, a.ID)
	br := s.pool.SendBatch(ctx, b)
	_, err := br.Exec()
	created := false
	if err == nil {
		err = br.QueryRow().Scan(&a.Status)
		created = err == nil
		if errors.Is(err, pgx.ErrNoRows) {
			err = nil // the patient has an account
		}
	}
	if err == nil {
		_, err = br.Exec()
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return billing.Account{}, false, pgdb.Errorf("billingdb.open: %w", err)
	}
	if created {
		return c.Account, true, nil
	}
	acct, err := s.GetByPatient(ctx, c.Account.PatientID)
	return acct, false, err
}

// OpenMany inserts the accounts of patients that have none, CLOSED where
// the patient's deletion came first, with one audit entry naming those it
// created, in one transaction that holds each patient's lock (taken in
// patient order, so two calls never wait on each other in a circle).
func (s *Store) OpenMany(ctx context.Context, accounts []billing.Account, audit billing.AuditEntry) ([]billing.Account, []bool, error) {
	ids := make([]string, len(accounts))
	patients := make([]string, len(accounts))
	for i, a := range accounts {
		ids[i], patients[i] = a.ID, a.PatientID
	}
	a0 := accounts[0]
	var stored []billing.Account
	created := map[string]bool{}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('billing-patient:' || p, 0))
			FROM (SELECT p FROM unnest($1::text[]) p ORDER BY p) ordered`, patients); err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, `INSERT INTO billing_accounts (`+accountColumns+`)
			SELECT n.id, n.patient_id,
				CASE WHEN EXISTS (SELECT 1 FROM deleted_patients d WHERE d.patient_id = n.patient_id) THEN 'CLOSED' ELSE $3 END,
				$4, 0, 0, 1, $5, $5
			FROM unnest($1::uuid[], $2::uuid[]) AS n(id, patient_id)
			ON CONFLICT (patient_id) DO NOTHING
			RETURNING id::text`, ids, patients, a0.Status, a0.Currency, a0.CreatedAt)
		opened, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if len(opened) > 0 {
			audit.AccountIDs = opened
			if err := insertAudit(ctx, tx, audit); err != nil {
				return err
			}
		}
		for _, id := range opened {
			created[id] = true
		}
		rows, _ = tx.Query(ctx, `SELECT `+accountColumns+` FROM billing_accounts WHERE patient_id = ANY($1::uuid[])`, patients)
		stored, err = pgx.CollectRows(rows, scanAccount)
		return err
	})
	if err != nil {
		return nil, nil, pgdb.Errorf("billingdb.open_many: %w", err)
	}
	byPatient := make(map[string]billing.Account, len(stored))
	for _, a := range stored {
		byPatient[a.PatientID] = a
	}
	out, news := make([]billing.Account, len(accounts)), make([]bool, len(accounts))
	for i, p := range patients {
		out[i] = byPatient[p]
		news[i] = created[out[i].ID]
	}
	return out, news, nil
}

// GetByPatient returns the account of patientID or billing.ErrNotFound.
func (s *Store) GetByPatient(ctx context.Context, patientID string) (billing.Account, error) {
	return s.one(ctx, "billingdb.get_by_patient", `SELECT `+accountColumns+` FROM billing_accounts WHERE patient_id = $1`, patientID)
}

// Get returns account id or billing.ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (billing.Account, error) {
	return s.one(ctx, "billingdb.get", `SELECT `+accountColumns+` FROM billing_accounts WHERE id = $1`, id)
}

func (s *Store) one(ctx context.Context, op, sql string, arg any) (billing.Account, error) {
	rows, _ := s.pool.Query(ctx, sql, arg)
	a, err := pgx.CollectExactlyOneRow(rows, scanAccount)
	if errors.Is(err, pgx.ErrNoRows) {
		return billing.Account{}, billing.ErrNotFound
	}
	if err != nil {
		return billing.Account{}, pgdb.Errorf("%s: %w", op, err)
	}
	return a, nil
}

// List returns accounts matching q, newest first.
func (s *Store) List(ctx context.Context, q billing.AccountQuery) ([]billing.Account, error) {
	var after time.Time
	var afterID string
	if q.After != nil {
		after, afterID = q.After.CreatedAt, q.After.ID
	}
	rows, _ := s.pool.Query(ctx, `SELECT `+accountColumns+` FROM billing_accounts
		WHERE ($1 = '' OR patient_id = $1::uuid) AND ($2 = '' OR status = $2)
		  AND ($3 = '' OR (created_at, id) < ($4, $3::uuid))
		ORDER BY created_at DESC, id DESC LIMIT $5`,
		q.PatientID, string(q.Status), afterID, after, q.Limit)
	list, err := pgx.CollectRows(rows, scanAccount)
	if err != nil {
		return nil, pgdb.Errorf("billingdb.list: %w", err)
	}
	return list, nil
}

// lockPatient makes an opening and a deletion of one patient run one
// after the other (a transaction-scoped advisory lock), so an account
// opened while its patient's deletion is handled still sees the deletion.
func lockPatient(ctx context.Context, tx pgx.Tx, patientID string) error {
	_, err := tx.Exec(ctx, lockPatientSQL, patientID)
	return err
}

const lockPatientSQL = `SELECT pg_advisory_xact_lock(hashtextextended('billing-patient:' || $1::text, 0))`

// lockAccount reads the account and holds its row until tx ends, so
// postings and status changes to one account run one after another and
// each sees the balance the last one left.
func lockAccount(ctx context.Context, tx pgx.Tx, where string, arg any) (billing.Account, error) {
	rows, _ := tx.Query(ctx, `SELECT `+accountColumns+` FROM billing_accounts WHERE `+where+` FOR UPDATE`, arg)
	a, err := pgx.CollectExactlyOneRow(rows, scanAccount)
	if errors.Is(err, pgx.ErrNoRows) {
		return billing.Account{}, billing.ErrNotFound
	}
	return a, err
}

const entryColumns = `e.id, e.account_id, e.sequence, e.kind, e.amount_minor, e.currency, e.balance_after_minor,
	e.posted_at, e.posted_by, coalesce(to_char(e.service_date, 'YYYY-MM-DD'), ''), coalesce(e.code, ''),
	coalesce(e.description, ''), coalesce(e.quantity, 0), coalesce(e.unit_price_minor, 0), coalesce(e.method, ''),
	coalesce(e.reference, ''), coalesce(e.adjustment_type, ''), coalesce(e.reason, ''), coalesce(e.reverses::text, ''),
	coalesce((SELECT r.id::text FROM ledger_entries r WHERE r.reverses = e.id), ''), e.idempotency_key, e.request_hash`

// Post appends the entry decide makes, under the account's lock, unless
// the key was used before.
func (s *Store) Post(ctx context.Context, accountID, key string, hash []byte, reverses string, decide billing.Decide) (billing.Change, error) {
	var c billing.Change
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		acc, err := lockAccount(ctx, tx, "id = $1", accountID)
		if err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, `SELECT `+entryColumns+` FROM ledger_entries e WHERE e.account_id = $1 AND e.idempotency_key = $2`, accountID, key)
		first, err := pgx.CollectExactlyOneRow(rows, scanEntry)
		switch {
		case err == nil && string(first.RequestHash) == string(hash):
			return &billing.ReplayError{Entry: first}
		case err == nil:
			return billing.ErrIdempotencyMismatch
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		var target *billing.Entry
		if reverses != "" {
			rows, _ := tx.Query(ctx, `SELECT `+entryColumns+` FROM ledger_entries e WHERE e.account_id = $1 AND e.id = $2`, accountID, reverses)
			t, err := pgx.CollectExactlyOneRow(rows, scanEntry)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
			if err == nil {
				target = &t
			}
		}
		if c, err = decide(acc, target); err != nil {
			return err
		}
		return writeChange(ctx, tx, c)
	})
	if err != nil {
		return billing.Change{}, mapErr("billingdb.post", err)
	}
	return c, nil
}

// Apply writes the change decide makes to the locked account.
func (s *Store) Apply(ctx context.Context, accountID string, decide billing.Decide) (billing.Change, error) {
	var c billing.Change
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		acc, err := lockAccount(ctx, tx, "id = $1", accountID)
		if err != nil {
			return err
		}
		if c, err = decide(acc, nil); err != nil {
			return err
		}
		return writeChange(ctx, tx, c)
	})
	if err != nil {
		return billing.Change{}, mapErr("billingdb.apply", err)
	}
	return c, nil
}

// CloseForPatient handles a patient's deletion once per event id.
func (s *Store) CloseForPatient(ctx context.Context, eventID, patientID string, decide billing.Decide) (bool, error) {
	handled := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO processed_events (event_id) VALUES ($1) ON CONFLICT DO NOTHING`, eventID)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		handled = true
		if err := lockPatient(ctx, tx, patientID); err != nil {
			return err
		}
		acc, err := lockAccount(ctx, tx, "patient_id = $1", patientID)
		if errors.Is(err, billing.ErrNotFound) {
			// No account yet: if one is opened later, it opens closed.
			_, err = tx.Exec(ctx, `INSERT INTO deleted_patients (patient_id, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, patientID, eventID)
			return err
		}
		if err != nil {
			return err
		}
		c, err := decide(acc, nil)
		if err != nil || c.Account.ID == "" {
			return err
		}
		return writeChange(ctx, tx, c)
	})
	if err != nil {
		return false, mapErr("billingdb.close_for_patient", err)
	}
	return handled, nil
}

// writeChange stores the account as c leaves it, its entry, event and
// audit entry.
func writeChange(ctx context.Context, tx pgx.Tx, c billing.Change) error {
	a := c.Account
	if _, err := tx.Exec(ctx, `UPDATE billing_accounts SET status = $2, balance_minor = $3, entry_count = $4,
		version = $5, updated_at = $6 WHERE id = $1`, a.ID, a.Status, a.Balance, a.EntryCount, a.Version, a.UpdatedAt); err != nil {
		return err
	}
	if e := c.Entry; e != nil {
		var serviceDate *string
		if e.ServiceDate != "" {
			serviceDate = &e.ServiceDate
		}
		if _, err := tx.Exec(ctx, `INSERT INTO ledger_entries (id, account_id, sequence, kind, amount_minor, currency,
			balance_after_minor, posted_at, posted_by, service_date, code, description, quantity, unit_price_minor,
			method, reference, adjustment_type, reason, reverses, idempotency_key, request_hash)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, nullif($11, ''), nullif($12, ''), nullif($13, 0),
			nullif($14, 0), nullif($15, ''), nullif($16, ''), nullif($17, ''), nullif($18, ''), nullif($19, '')::uuid, $20, $21)`,
			e.ID, e.AccountID, e.Sequence, e.Kind, e.Amount, e.Currency, e.BalanceAfter, e.PostedAt, e.PostedBy,
			serviceDate, e.Code, e.Description, e.Quantity, e.UnitPrice, string(e.Method), e.Reference,
			string(e.AdjustmentType), e.Reason, e.Reverses, e.IdempotencyKey, e.RequestHash); err != nil {
			return err
		}
	}
	if c.Event.ID != "" {
		m, err := billingevents.Encode(c.Event)
		if err != nil {
			return err
		}
		if err := outbox.Add(ctx, tx, m); err != nil {
			return err
		}
	}
	return insertAudit(ctx, tx, c.Audit)
}

// Entry returns one entry of an account or billing.ErrEntryNotFound.
func (s *Store) Entry(ctx context.Context, accountID, entryID string) (billing.Entry, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+entryColumns+` FROM ledger_entries e WHERE e.account_id = $1 AND e.id = $2`, accountID, entryID)
	e, err := pgx.CollectExactlyOneRow(rows, scanEntry)
	if errors.Is(err, pgx.ErrNoRows) {
		return billing.Entry{}, billing.ErrEntryNotFound
	}
	if err != nil {
		return billing.Entry{}, pgdb.Errorf("billingdb.entry: %w", err)
	}
	return e, nil
}

// Entries returns a page of an account's ledger, newest first.
func (s *Store) Entries(ctx context.Context, accountID string, before int64, limit int) ([]billing.Entry, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+entryColumns+` FROM ledger_entries e
		WHERE e.account_id = $1 AND ($2 = 0 OR e.sequence < $2) ORDER BY e.sequence DESC LIMIT $3`, accountID, before, limit)
	list, err := pgx.CollectRows(rows, scanEntry)
	if err != nil {
		return nil, pgdb.Errorf("billingdb.entries: %w", err)
	}
	return list, nil
}

// Period returns the balance before from and the entries of [from, to).
func (s *Store) Period(ctx context.Context, accountID string, from, to time.Time, limit int) (int64, []billing.Entry, error) {
	var opening int64
	var list []billing.Entry
	// One snapshot: the opening balance and the entries agree.
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT coalesce(sum(amount_minor), 0)::bigint FROM ledger_entries
			WHERE account_id = $1 AND posted_at < $2`, accountID, from).Scan(&opening); err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, `SELECT `+entryColumns+` FROM ledger_entries e
			WHERE e.account_id = $1 AND e.posted_at >= $2 AND e.posted_at < $3 ORDER BY e.sequence LIMIT $4`,
			accountID, from, to, limit+1)
		var err error
		list, err = pgx.CollectRows(rows, scanEntry)
		return err
	})
	if err != nil {
		return 0, nil, pgdb.Errorf("billingdb.period: %w", err)
	}
	return opening, list, nil
}

const (
	auditInto      = `INSERT INTO billing_audit (at, user_id, role, action, account_ids, entry_id, request_id, outcome)`
	auditValues    = `$1, $2, $3, $4, $5::uuid[], nullif($6, '')::uuid, $7, $8`
	insertAuditSQL = auditInto + ` VALUES (` + auditValues + `)`
	// insertOpeningAudit writes the entry only if account $9 exists.
	insertOpeningAudit = auditInto + ` SELECT ` + auditValues + ` WHERE EXISTS (SELECT 1 FROM billing_accounts WHERE id = $9)`
)

// execer is a transaction or the pool.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func insertAudit(ctx context.Context, db execer, e billing.AuditEntry) error {
	_, err := db.Exec(ctx, insertAuditSQL, e.At, e.UserID, e.Role, e.Action, orEmpty(e.AccountIDs), e.EntryID, e.RequestID, e.Outcome)
	return err
}

// orEmpty is ids, or an empty list for none (the column is NOT NULL).
func orEmpty(ids []string) []string {
	if ids == nil {
		return []string{}
	}
	return ids
}

// RecordAudit stores one audit entry on its own.
func (s *Store) RecordAudit(ctx context.Context, e billing.AuditEntry) error {
	if err := insertAudit(ctx, s.pool, e); err != nil {
		return pgdb.Errorf("billingdb.record_audit: %w", err)
	}
	return nil
}

// Audit returns a page of an account's audit trail, newest first.
func (s *Store) Audit(ctx context.Context, accountID string, before int64, limit int) ([]billing.AuditEntry, error) {
	rows, _ := s.pool.Query(ctx, `SELECT id, at, user_id, role, action, account_ids::text[],
		coalesce(entry_id::text, ''), request_id, outcome FROM billing_audit
		WHERE account_ids @> ARRAY[$1::uuid] AND ($2 = 0 OR id < $2) ORDER BY id DESC LIMIT $3`, accountID, before, limit)
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (billing.AuditEntry, error) {
		var e billing.AuditEntry
		err := r.Scan(&e.ID, &e.At, &e.UserID, &e.Role, &e.Action, &e.AccountIDs, &e.EntryID, &e.RequestID, &e.Outcome)
		return e, err
	})
	if err != nil {
		return nil, pgdb.Errorf("billingdb.audit: %w", err)
	}
	return list, nil
}

// mapErr marks an outage; domain errors pass through wrapped.
func mapErr(op string, err error) error { return pgdb.Errorf("%s: %w", op, err) }

func scanAccount(row pgx.CollectableRow) (billing.Account, error) {
	var a billing.Account
	err := row.Scan(&a.ID, &a.PatientID, &a.Status, &a.Currency, &a.Balance, &a.EntryCount, &a.Version, &a.CreatedAt, &a.UpdatedAt)
	return a, err
}

func scanEntry(row pgx.CollectableRow) (billing.Entry, error) {
	var e billing.Entry
	err := row.Scan(&e.ID, &e.AccountID, &e.Sequence, &e.Kind, &e.Amount, &e.Currency, &e.BalanceAfter,
		&e.PostedAt, &e.PostedBy, &e.ServiceDate, &e.Code, &e.Description, &e.Quantity, &e.UnitPrice, &e.Method,
		&e.Reference, &e.AdjustmentType, &e.Reason, &e.Reverses, &e.ReversedBy, &e.IdempotencyKey, &e.RequestHash)
	return e, err
}
