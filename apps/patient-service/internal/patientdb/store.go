// Package patientdb stores patients and their outbox events in PostgreSQL.
package patientdb

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pms-dapr/pms/apps/patient-service/internal/patient"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the schema migrations, applied at start.
func Migrations() fs.FS {
	sub, _ := fs.Sub(migrationFiles, "migrations")
	return sub
}

// Topic is the pub/sub topic patient events go to.
const Topic = "patient"

// Store implements patient.Store on a pgx pool.
type Store struct {
	pool *pgxpool.Pool
}

// New returns a Store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

const patientColumns = `id, name, email, address, date_of_birth, registered_date,
	coalesce(billing_account_id, ''), version, created_at, updated_at`

const insertPatient = `INSERT INTO patients
	(id, name, email, address, date_of_birth, registered_date, version, created_at, updated_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`

const insertOutbox = `INSERT INTO outbox (event_id, topic, partition_key, payload) VALUES ($1, $2, $3, $4)`

// Create inserts p and its event in one transaction.
func (s *Store) Create(ctx context.Context, p patient.Patient, ev patient.Event) error {
	payload, err := encodeEvent(ev)
	if err != nil {
		return fmt.Errorf("patientdb.create: %w", err)
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, insertPatient, p.ID, p.Name, p.Email, p.Address,
			p.DateOfBirth, p.RegisteredDate, p.Version, p.CreatedAt, p.UpdatedAt); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, insertOutbox, ev.ID, Topic, p.ID, payload)
		return err
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "patients_email_key" {
		return patient.ErrEmailTaken
	}
	if err != nil {
		return fmt.Errorf("patientdb.create: %w", err)
	}
	return nil
}

// Get returns the patient with id or patient.ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (patient.Patient, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+patientColumns+` FROM patients WHERE id = $1`, id)
	p, err := pgx.CollectExactlyOneRow(rows, scanPatient)
	if errors.Is(err, pgx.ErrNoRows) {
		return patient.Patient{}, patient.ErrNotFound
	}
	if err != nil {
		return patient.Patient{}, fmt.Errorf("patientdb.get: %w", err)
	}
	return p, nil
}

// List returns up to limit patients, newest first.
func (s *Store) List(ctx context.Context, limit int) ([]patient.Patient, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+patientColumns+` FROM patients
		ORDER BY created_at DESC, id DESC LIMIT $1`, limit)
	ps, err := pgx.CollectRows(rows, scanPatient)
	if err != nil {
		return nil, fmt.Errorf("patientdb.list: %w", err)
	}
	return ps, nil
}

// SetBillingAccount records the billing account of patient id. An account
// already recorded is kept: billing is idempotent, so it is the same one.
func (s *Store) SetBillingAccount(ctx context.Context, id, accountID string) error {
	_, err := s.pool.Exec(ctx, `UPDATE patients SET billing_account_id = $2
		WHERE id = $1 AND billing_account_id IS NULL`, id, accountID)
	if err != nil {
		return fmt.Errorf("patientdb.set_billing_account: %w", err)
	}
	return nil
}

// MissingBillingAccount returns up to limit patients without a billing
// account, oldest first.
func (s *Store) MissingBillingAccount(ctx context.Context, limit int) ([]patient.Patient, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+patientColumns+` FROM patients
		WHERE billing_account_id IS NULL ORDER BY created_at LIMIT $1`, limit)
	ps, err := pgx.CollectRows(rows, scanPatient)
	if err != nil {
		return nil, fmt.Errorf("patientdb.missing_billing_account: %w", err)
	}
	return ps, nil
}

func scanPatient(row pgx.CollectableRow) (patient.Patient, error) {
	var p patient.Patient
	err := row.Scan(&p.ID, &p.Name, &p.Email, &p.Address, &p.DateOfBirth, &p.RegisteredDate,
		&p.BillingAccountID, &p.Version, &p.CreatedAt, &p.UpdatedAt)
	p.DateOfBirth, p.RegisteredDate = utcDate(p.DateOfBirth), utcDate(p.RegisteredDate)
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	return p, err
}

func utcDate(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}
