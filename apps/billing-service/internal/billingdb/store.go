// Package billingdb stores billing accounts in PostgreSQL.
package billingdb

import (
	"context"
	"embed"
	"errors"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pms-dapr/pms/apps/billing-service/internal/billing"
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

const columns = `id, patient_id, name, email, status, created_at`

// insertAccount inserts unless the patient has an account; it returns the
// row only when it inserted one.
const insertAccount = `INSERT INTO billing_accounts (` + columns + `)
	VALUES ($1, $2, $3, $4, $5, $6)
	ON CONFLICT (patient_id) DO NOTHING
	RETURNING ` + columns

const selectByPatient = `SELECT ` + columns + ` FROM billing_accounts WHERE patient_id = $1`

// Create inserts a, or returns the patient's existing account.
func (s *Store) Create(ctx context.Context, a billing.Account) (billing.Account, bool, error) {
	rows, _ := s.pool.Query(ctx, insertAccount, a.ID, a.PatientID, a.Name, a.Email, a.Status, a.CreatedAt)
	stored, err := pgx.CollectExactlyOneRow(rows, scanAccount)
	if err == nil {
		return stored, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return billing.Account{}, false, pgdb.Errorf("billingdb.create: %w", err)
	}
	existing, err := s.GetByPatient(ctx, a.PatientID)
	if err != nil {
		return billing.Account{}, false, pgdb.Errorf("billingdb.create: %w", err)
	}
	return existing, false, nil
}

// GetByPatient returns the account of patientID or billing.ErrNotFound.
func (s *Store) GetByPatient(ctx context.Context, patientID string) (billing.Account, error) {
	rows, _ := s.pool.Query(ctx, selectByPatient, patientID)
	a, err := pgx.CollectExactlyOneRow(rows, scanAccount)
	if errors.Is(err, pgx.ErrNoRows) {
		return billing.Account{}, billing.ErrNotFound
	}
	if err != nil {
		return billing.Account{}, pgdb.Errorf("billingdb.get_by_patient: %w", err)
	}
	return a, nil
}

func scanAccount(row pgx.CollectableRow) (billing.Account, error) {
	var a billing.Account
	err := row.Scan(&a.ID, &a.PatientID, &a.Name, &a.Email, &a.Status, &a.CreatedAt)
	return a, err
}
