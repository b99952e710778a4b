// Package billing is billing-service's domain: one billing account per
// patient, opened idempotently.
package billing

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/pms-dapr/pms/platform/validation"
)

// Sentinel errors mapped to gRPC status codes by the transport.
var (
	ErrNotFound = errors.New("billing account not found")
)

// Status of an account.
type Status string

// Account statuses.
const (
	StatusActive Status = "ACTIVE"
	StatusClosed Status = "CLOSED"
)

// Account is one patient's billing account.
type Account struct {
	ID        string
	PatientID string
	Name      string
	Email     string
	Status    Status
	CreatedAt time.Time
}

// Store persists accounts. Create returns the existing account when the
// patient already has one, with created false.
type Store interface {
	Create(ctx context.Context, a Account) (stored Account, created bool, err error)
	GetByPatient(ctx context.Context, patientID string) (Account, error)
}

// Service opens and reads billing accounts.
type Service struct {
	store Store
	now   func() time.Time
}

// NewService returns a Service over store.
func NewService(store Store) *Service { return &Service{store: store, now: time.Now} }

// Open returns the patient's account, creating it on the first call.
func (s *Service) Open(ctx context.Context, patientID, name, email string) (Account, bool, error) {
	name, email = strings.TrimSpace(name), strings.TrimSpace(email)
	inv := validation.New("billing request")
	if !validUUID(patientID) {
		inv.Add("patient_id", "must be a UUID")
	}
	if name == "" {
		inv.Add("name", "is required")
	}
	if _, err := mail.ParseAddress(email); err != nil || email == "" {
		inv.Add("email", "must be an email address")
	}
	if err := inv.Err(); err != nil {
		return Account{}, false, err
	}
	a := Account{ID: uuid.NewString(), PatientID: patientID, Name: name, Email: email,
		Status: StatusActive, CreatedAt: s.now().UTC()}
	stored, created, err := s.store.Create(ctx, a)
	if err != nil {
		return Account{}, false, fmt.Errorf("billing.open: %w", err)
	}
	return stored, created, nil
}

// Get returns the account of patientID.
func (s *Service) Get(ctx context.Context, patientID string) (Account, error) {
	if !validUUID(patientID) {
		return Account{}, validation.Field("billing request", "patient_id", "must be a UUID")
	}
	a, err := s.store.GetByPatient(ctx, patientID)
	if err != nil {
		return Account{}, fmt.Errorf("billing.get: %w", err)
	}
	return a, nil
}

func validUUID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}
