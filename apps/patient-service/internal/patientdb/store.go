// Package patientdb stores patients, their outbox events, idempotency keys
// and the audit trail in PostgreSQL. Every write and its event and audit
// entry commit together.
package patientdb

import (
	"context"
	"embed"
	"errors"
	"io/fs"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pms-dapr/pms/apps/patient-service/internal/patient"
	"github.com/pms-dapr/pms/apps/patient-service/internal/patientevents"
	"github.com/pms-dapr/pms/platform/outbox"
	"github.com/pms-dapr/pms/platform/pgdb"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the schema migrations, applied at start.
func Migrations() fs.FS { return pgdb.Dir(migrationFiles) }

// Store implements patient.Store on a pgx pool.
type Store struct {
	pool  *pgxpool.Pool
	audit *auditGroup
}

// New returns a Store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool, audit: &auditGroup{pool: pool}} }

const patientColumns = `id, name, email, address, coalesce(phone, ''), coalesce(gender, ''), mrn,
	date_of_birth, registered_date, coalesce(billing_account_id, ''), version, created_at, updated_at,
	coalesce(deleted_at, '0001-01-01 00:00:00+00'), coalesce(family_name, ''), given_names,
	more_resource, identifier_keys, other_names`

const insertPatient = `INSERT INTO patients
	(id, name, email, address, phone, gender, mrn, date_of_birth, registered_date, version, created_at, updated_at,
	 family_name, given_names, name_key, family_key, given_keys, name_prefixes, more_resource, identifier_keys, other_names)
	VALUES ($1, $2, $3, $4, nullif($5, ''), nullif($6, ''), $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)`

const claimKey = `INSERT INTO idempotency_keys (user_id, key, request_hash, patient_id)
	VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`

// Create inserts p with its event and audit entry; with a key, only if the
// key is new. Without a key the statements go to the server in one round
// trip and commit together (a batch is one implicit transaction).
func (s *Store) Create(ctx context.Context, p patient.Patient, ev patient.Event, audit patient.AuditEntry, key *patient.IdempotencyKey) error {
	b, err := newPatient(ctx, p, ev, audit)
	if err != nil {
		return s.mapErr("create", err)
	}
	if key == nil {
		return s.mapErr("create", s.pool.SendBatch(ctx, b).Close())
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// The key first: a retry must find the first attempt's patient, not
		// trip over its email.
		if err := claim(ctx, tx, key, p.ID); err != nil {
			return err
		}
		return tx.SendBatch(ctx, b).Close()
	})
	return s.mapErr("create", err)
}

// newPatient is the batch that inserts p (with its name parts and search
// keys), its event, first version and audit entry.
func newPatient(ctx context.Context, p patient.Patient, ev patient.Event, audit patient.AuditEntry) (*pgx.Batch, error) {
	b := &pgx.Batch{}
	k := keysOf(p)
	b.Queue(insertPatient, p.ID, p.Name, p.Email, p.Address, p.Phone, p.Gender, p.MRN,
		p.DateOfBirth, p.RegisteredDate, p.Version, p.CreatedAt, p.UpdatedAt, k.family, k.given, k.name, k.familyKey, k.givenKeys,
		k.prefixes, moreResource(p), orNone(p.More.Identifiers), orNone(p.More.OtherNames))
	return b, queueChange(ctx, b, p, ev, audit)
}

// claim records key for patientID; a key already there means a replay (same
// request) or a misuse (another request).
func claim(ctx context.Context, tx pgx.Tx, key *patient.IdempotencyKey, patientID string) error {
	tag, err := tx.Exec(ctx, claimKey, key.UserID, key.Key, key.RequestHash, patientID)
	if err != nil || tag.RowsAffected() == 1 {
		return err
	}
	var hash []byte
	var first string
	if err := tx.QueryRow(ctx, `SELECT request_hash, patient_id FROM idempotency_keys WHERE user_id = $1 AND key = $2`,
		key.UserID, key.Key).Scan(&hash, &first); err != nil {
		return err
	}
	if string(hash) != string(key.RequestHash) {
		return patient.ErrIdempotencyMismatch
	}
	return &patient.ReplayError{PatientID: first}
}

// writeChange stores, in tx and in one round trip, a change's event in the
// outbox, the version it made (p) and its audit entry.
func writeChange(ctx context.Context, tx pgx.Tx, p patient.Patient, ev patient.Event, audit patient.AuditEntry) error {
	b := &pgx.Batch{}
	if err := queueChange(ctx, b, p, ev, audit); err != nil {
		return err
	}
	return tx.SendBatch(ctx, b).Close()
}

// queueChange adds to b the statements writeChange runs.
func queueChange(ctx context.Context, b *pgx.Batch, p patient.Patient, ev patient.Event, audit patient.AuditEntry) error {
	m, err := patientevents.Encode(ev)
	if err != nil {
		return err
	}
	outbox.Queue(ctx, b, m)
	if err := queueVersion(b, p, versionAction(audit.Action)); err != nil {
		return err
	}
	queueAudit(b, audit)
	return nil
}

// mapErr turns constraint violations into domain errors.
func (s *Store) mapErr(op string, err error) error {
	var pgErr *pgconn.PgError
	var replay *patient.ReplayError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &replay), errors.Is(err, patient.ErrIdempotencyMismatch),
		errors.Is(err, patient.ErrVersionMismatch), errors.Is(err, patient.ErrNotFound), errors.Is(err, patient.ErrGone):
		return err
	case errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "patients_email_key":
		return patient.ErrEmailTaken
	case errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "patients_mrn_key":
		return patient.ErrMRNTaken
	}
	return pgdb.Errorf("patientdb.%s: %w", op, err)
}

// Get returns the patient with id, deleted or not, or patient.ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (patient.Patient, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+patientColumns+` FROM patients WHERE id = $1`, id)
	p, err := pgx.CollectExactlyOneRow(rows, scanPatient)
	if errors.Is(err, pgx.ErrNoRows) {
		return patient.Patient{}, patient.ErrNotFound
	}
	if err != nil {
		return patient.Patient{}, pgdb.Errorf("patientdb.get: %w", err)
	}
	return p, nil
}

const updatePatient = `UPDATE patients SET name = $2, email = $3, address = $4, phone = nullif($5, ''),
	gender = nullif($6, ''), mrn = $7, date_of_birth = $8, registered_date = $9, version = $10, updated_at = $11,
	family_name = $12, given_names = $13, name_key = $14, family_key = $15, given_keys = $16, name_prefixes = $17,
	more_resource = $18, identifier_keys = $19, other_names = $20
	WHERE id = $1 AND version = $10 - 1 AND deleted_at IS NULL`

// Update stores p as the next version of its record.
func (s *Store) Update(ctx context.Context, p patient.Patient, ev patient.Event, audit patient.AuditEntry) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		k := keysOf(p)
		tag, err := tx.Exec(ctx, updatePatient, updateArgs(p, k)...)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return whyUnchanged(ctx, tx, p.ID)
		}
		return writeChange(ctx, tx, p, ev, audit)
	})
	return s.mapErr("update", err)
}

// Delete marks p.ID deleted at p.DeletedAt as version p.Version.
func (s *Store) Delete(ctx context.Context, p patient.Patient, ev patient.Event, audit patient.AuditEntry) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE patients SET deleted_at = $3, version = $2, updated_at = $3
			WHERE id = $1 AND version = $2 - 1 AND deleted_at IS NULL`, p.ID, p.Version, p.DeletedAt)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return whyUnchanged(ctx, tx, p.ID)
		}
		return writeChange(ctx, tx, p, ev, audit)
	})
	return s.mapErr("delete", err)
}

// whyUnchanged explains a conditional update that matched no row.
func whyUnchanged(ctx context.Context, tx pgx.Tx, id string) error {
	var deleted bool
	err := tx.QueryRow(ctx, `SELECT deleted_at IS NOT NULL FROM patients WHERE id = $1`, id).Scan(&deleted)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return patient.ErrNotFound
	case err != nil:
		return err
	case deleted:
		return patient.ErrGone
	}
	return patient.ErrVersionMismatch
}

// SetBillingAccount records the billing account of patient id. An account
// already recorded is kept: billing is idempotent, so it is the same one.
func (s *Store) SetBillingAccount(ctx context.Context, id, accountID string) error {
	_, err := s.pool.Exec(ctx, `UPDATE patients SET billing_account_id = $2
		WHERE id = $1 AND billing_account_id IS NULL`, id, accountID)
	if err != nil {
		return pgdb.Errorf("patientdb.set_billing_account: %w", err)
	}
	return nil
}

// SetBillingAccounts records the accounts (patient id → account id) of
// many patients with one statement, keeping any account already recorded.
func (s *Store) SetBillingAccounts(ctx context.Context, accounts map[string]string) error {
	ids, accts := make([]string, 0, len(accounts)), make([]string, 0, len(accounts))
	for id, a := range accounts {
		ids, accts = append(ids, id), append(accts, a)
	}
	_, err := s.pool.Exec(ctx, `UPDATE patients p SET billing_account_id = a.account
		FROM unnest($1::uuid[], $2::text[]) AS a(id, account)
		WHERE p.id = a.id AND p.billing_account_id IS NULL`, ids, accts)
	if err != nil {
		return pgdb.Errorf("patientdb.set_billing_accounts: %w", err)
	}
	return nil
}

// MissingBillingAccount returns up to limit live patients without a billing
// account, oldest first.
func (s *Store) MissingBillingAccount(ctx context.Context, limit int) ([]patient.Patient, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+patientColumns+` FROM patients
		WHERE billing_account_id IS NULL AND deleted_at IS NULL ORDER BY created_at LIMIT $1`, limit)
	ps, err := pgx.CollectRows(rows, scanPatient)
	if err != nil {
		return nil, pgdb.Errorf("patientdb.missing_billing_account: %w", err)
	}
	return ps, nil
}

// updateArgs are updatePatient's arguments for p with its keys k.
func updateArgs(p patient.Patient, k nameKeys) []any {
	return []any{p.ID, p.Name, p.Email, p.Address, p.Phone, p.Gender, p.MRN, p.DateOfBirth, p.RegisteredDate, p.Version,
		p.UpdatedAt, k.family, k.given, k.name, k.familyKey, k.givenKeys, k.prefixes, moreResource(p),
		orNone(p.More.Identifiers), orNone(p.More.OtherNames)}
}

// moreResource is p's FHIR rest as the column takes it: NULL for none.
func moreResource(p patient.Patient) any { return pgdb.NullIfEmpty(string(p.More.Resource)) }

// orNone is list, or an empty one for nil (the columns are NOT NULL).
func orNone(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}

func scanPatient(row pgx.CollectableRow) (patient.Patient, error) {
	var p patient.Patient
	var more []byte
	err := row.Scan(&p.ID, &p.Name, &p.Email, &p.Address, &p.Phone, &p.Gender, &p.MRN, &p.DateOfBirth, &p.RegisteredDate,
		&p.BillingAccountID, &p.Version, &p.CreatedAt, &p.UpdatedAt, &p.DeletedAt, &p.Family, &p.Given,
		&more, &p.More.Identifiers, &p.More.OtherNames)
	if len(more) > 0 {
		p.More.Resource = more
	}
	if len(p.More.Identifiers) == 0 {
		p.More.Identifiers = nil
	}
	if len(p.More.OtherNames) == 0 {
		p.More.OtherNames = nil
	}
	p.DateOfBirth, p.RegisteredDate = utcDate(p.DateOfBirth), utcDate(p.RegisteredDate)
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	if p.DeletedAt.Year() <= 1 {
		p.DeletedAt = time.Time{}
	} else {
		p.DeletedAt = p.DeletedAt.UTC()
	}
	return p, err
}

func utcDate(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// nameKeys are a record's name parts and the folded forms searches compare.
type nameKeys struct {
	family, name, familyKey    string
	given, givenKeys, prefixes []string
}

func keysOf(p patient.Patient) nameKeys {
	family, given := patient.NamePartsOf(p)
	k := nameKeys{family: family, given: given, name: patient.Fold(p.Name), familyKey: patient.Fold(family),
		givenKeys: make([]string, len(given))}
	if k.given == nil {
		k.given = []string{}
	}
	for i, g := range given {
		k.givenKeys[i] = patient.Fold(g)
	}
	texts := append([]string{p.Name, family}, given...)
	tagged := map[string][]string{tagName: {k.name}, tagFamily: {k.familyKey}, tagGiven: k.givenKeys}
	// Other names ("f:Smith", "g:Mary", "n:Mary Smith") are searched as
	// the name is, by their words and by their kind.
	for _, o := range p.More.OtherNames {
		kind, text, _ := strings.Cut(o, ":")
		texts = append(texts, text)
		tag := kind + ":"
		if _, ok := tagged[tag]; ok {
			tagged[tag] = append(tagged[tag], patient.Fold(text))
		}
	}
	k.prefixes = patient.NamePrefixes(texts...)
	for _, tag := range []string{tagName, tagFamily, tagGiven} {
		k.prefixes = append(k.prefixes, keyPrefixes(tag, tagged[tag]...)...)
	}
	k.prefixes = append(k.prefixes, patient.YearPrefixes(p.DateOfBirth.Year(), k.prefixes)...)
	if k.prefixes == nil {
		k.prefixes = []string{} // never NULL: NULL marks a row the backfill has still to fill
	}
	return k
}

// BackfillSearchKeys gives rows written before the current search keys
// existed (before name parts, or before name word prefixes) their parts
// (kept when they have them, else NameParts of their name) and every
// search key, computed by today's folding, in batches, and returns how many
// it filled.
func (s *Store) BackfillSearchKeys(ctx context.Context) (int, error) {
	total := 0
	for {
		rows, _ := s.pool.Query(ctx, `SELECT `+patientColumns+` FROM patients WHERE name_prefixes IS NULL LIMIT 500`)
		ps, err := pgx.CollectRows(rows, scanPatient)
		if err != nil {
			return total, pgdb.Errorf("patientdb.backfill_search_keys: %w", err)
		}
		if len(ps) == 0 {
			return total, nil
		}
		batch := &pgx.Batch{}
		for _, p := range ps {
			k := keysOf(p)
			batch.Queue(`UPDATE patients SET family_name = $2, given_names = $3, name_key = $4, family_key = $5, given_keys = $6,
				name_prefixes = $7 WHERE id = $1 AND name_prefixes IS NULL`, p.ID, k.family, k.given, k.name, k.familyKey, k.givenKeys, k.prefixes)
		}
		if err := s.pool.SendBatch(ctx, batch).Close(); err != nil {
			return total, pgdb.Errorf("patientdb.backfill_search_keys: %w", err)
		}
		total += len(ps)
	}
}
