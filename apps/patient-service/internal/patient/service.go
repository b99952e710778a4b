package patient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
)

// EventType names a change to a patient record.
type EventType string

// The event types patient-service publishes.
const (
	EventCreated EventType = "PATIENT_CREATED"
	EventUpdated EventType = "PATIENT_UPDATED"
	EventDeleted EventType = "PATIENT_DELETED"
)

// Event is one change, written to the outbox in the change's transaction and
// published to the event topic afterwards.
type Event struct {
	ID         string
	Type       EventType
	Patient    Patient
	OccurredAt time.Time
}

// Store persists patients. Create writes the patient and its event atomically.
type Store interface {
	Create(ctx context.Context, p Patient, ev Event) error
	Get(ctx context.Context, id string) (Patient, error)
	List(ctx context.Context, limit int) ([]Patient, error)
	SetBillingAccount(ctx context.Context, id, accountID string) error
	MissingBillingAccount(ctx context.Context, limit int) ([]Patient, error)
}

// Billing opens billing accounts. CreateAccount is idempotent on patient id.
type Billing interface {
	CreateAccount(ctx context.Context, p Patient) (accountID string, err error)
}

// List limits.
const (
	DefaultListLimit = 20
	MaxListLimit     = 100
)

// Service registers patients.
type Service struct {
	store   Store
	billing Billing
	log     *slog.Logger
	now     func() time.Time
}

// NewService returns a Service over store and billing.
func NewService(store Store, billing Billing, log *slog.Logger) *Service {
	return &Service{store: store, billing: billing, log: log, now: time.Now}
}

// Create validates d, stores the patient with its PATIENT_CREATED event, then
// asks billing for an account. A billing failure does not fail the
// registration: the patient is returned without an account and
// ReconcileBilling opens it later.
func (s *Service) Create(ctx context.Context, d Draft) (Patient, error) {
	now := s.now().UTC()
	p, err := d.Validate(now.Truncate(24 * time.Hour))
	if err != nil {
		return Patient{}, err
	}
	p.ID = uuid.NewString()
	p.Version = 1
	p.CreatedAt, p.UpdatedAt = now, now
	ev := Event{ID: uuid.NewString(), Type: EventCreated, Patient: p, OccurredAt: now}
	if err := s.store.Create(ctx, p, ev); err != nil {
		return Patient{}, fmt.Errorf("patient.create: %w", err)
	}
	if acct, err := s.openAccount(ctx, p); err != nil {
		s.log.WarnContext(ctx, "billing account not opened yet; will retry in background", "patient_id", p.ID, "err", err)
	} else {
		p.BillingAccountID = acct
	}
	return p, nil
}

func (s *Service) openAccount(ctx context.Context, p Patient) (string, error) {
	acct, err := s.billing.CreateAccount(ctx, p)
	if err != nil {
		return "", err
	}
	// The request may have been cancelled after billing answered; the account
	// id must still be recorded.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.store.SetBillingAccount(sctx, p.ID, acct); err != nil {
		return "", fmt.Errorf("record billing account: %w", err)
	}
	return acct, nil
}

// Get returns the patient with id.
func (s *Service) Get(ctx context.Context, id string) (Patient, error) {
	if !ValidID(id) {
		return Patient{}, ErrNotFound
	}
	p, err := s.store.Get(ctx, id)
	if err != nil {
		return Patient{}, fmt.Errorf("patient.get: %w", err)
	}
	return p, nil
}

// List returns up to limit patients, newest first. limit 0 means the default;
// more than MaxListLimit is a validation error.
func (s *Service) List(ctx context.Context, limit int) ([]Patient, error) {
	switch {
	case limit == 0:
		limit = DefaultListLimit
	case limit < 0 || limit > MaxListLimit:
		return nil, &ValidationError{Fields: []FieldError{{"limit", "must be between 1 and 100"}}}
	}
	ps, err := s.store.List(ctx, limit)
	if err != nil {
		return nil, fmt.Errorf("patient.list: %w", err)
	}
	return ps, nil
}

// ReconcileBilling opens the billing accounts that Create could not, until
// ctx ends: every interval it retries each patient still without an account,
// backing off (up to maxBackoff) while billing keeps failing.
func (s *Service) ReconcileBilling(ctx context.Context, interval, maxBackoff time.Duration) error {
	wait := interval
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		if err := s.reconcileOnce(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			wait = min(wait*2, maxBackoff)
			s.log.WarnContext(ctx, "billing reconciliation failed", "err", err, "retry_in", wait.String())
			continue
		}
		wait = interval
	}
}

func (s *Service) reconcileOnce(ctx context.Context) error {
	pending, err := s.store.MissingBillingAccount(ctx, 50)
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range pending {
		acct, err := s.openAccount(ctx, p)
		if err != nil {
			errs = append(errs, fmt.Errorf("patient %s: %w", p.ID, err))
			continue
		}
		s.log.InfoContext(ctx, "billing account opened by reconciliation", "patient_id", p.ID, "billing_account_id", acct)
	}
	return errors.Join(errs...)
}
