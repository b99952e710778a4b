// Package analytics is analytics-service's domain: it records patient and
// billing events once each and answers aggregate questions about them.
package analytics

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
)

// ErrMalformed marks an event that can never be recorded (bad JSON, missing
// id or type); retrying it is pointless, so it is dropped.
var ErrMalformed = errors.New("malformed patient event")

// ErrRejected marks an event the database refuses for what it holds (a
// constraint or data error): redelivering it cannot help until an operator
// fixes the cause, so it is dropped to the dead-letter topic and redriven
// from there.
var ErrRejected = errors.New("event rejected by the database")

// Event is the part of a patient event analytics keeps: identifiers, time
// and the de-identified attributes events carry.
type Event struct {
	ID         string
	Type       string // PATIENT_CREATED, PATIENT_UPDATED or PATIENT_DELETED
	PatientID  string
	OccurredAt time.Time
	AgeBand    string // "0-17" … "90+", or "" when not given
	Gender     string // male, female, other, unknown, or ""
}

// DayCount is how many patients were created on one UTC day.
type DayCount struct {
	Date  string // YYYY-MM-DD
	Count int64
}

// GroupCount is how many patients were registered with one value of an
// attribute ("" when the event did not say).
type GroupCount struct {
	Value string
	Count int64
}

// Summary aggregates the recorded events. Counts are of distinct events,
// so a redelivered event never counts twice.
type Summary struct {
	TotalPatientsCreated int64
	TotalUpdates         int64
	TotalPatientsDeleted int64
	CreatedPerDay        []DayCount   // oldest day first
	CreatedByAgeBand     []GroupCount // youngest band first
	CreatedByGender      []GroupCount // by value
	Billing              BillingSummary
}

// AgeBands are the bands events may carry, youngest first.
var AgeBands = []string{"0-17", "18-29", "30-44", "45-64", "65-89", "90+"}

var genders = map[string]bool{"": true, "male": true, "female": true, "other": true, "unknown": true}

// CurrentPatients is how many registered patients are not deleted.
func (s Summary) CurrentPatients() int64 { return s.TotalPatientsCreated - s.TotalPatientsDeleted }

// Store records events idempotently and aggregates them.
type Store interface {
	// Record stores ev unless an event with its id is already stored and
	// reports whether it was new.
	Record(ctx context.Context, ev Event) (bool, error)
	// RecordBilling stores a billing event unless one with its id is
	// stored, and reports whether it was new.
	RecordBilling(ctx context.Context, ev BillingEvent) (bool, error)
	Summary(ctx context.Context) (Summary, error)
}

// Service records and summarises events.
type Service struct{ store Store }

// NewService returns a Service over store.
func NewService(store Store) *Service { return &Service{store: store} }

var knownTypes = map[string]bool{"PATIENT_CREATED": true, "PATIENT_UPDATED": true, "PATIENT_DELETED": true}

// Record validates and stores ev; a repeated event id is accepted and ignored.
func (s *Service) Record(ctx context.Context, ev Event) (bool, error) {
	switch {
	case !validUUID(ev.ID):
		return false, fmt.Errorf("%w: event id %q is not a UUID", ErrMalformed, ev.ID)
	case !knownTypes[ev.Type]:
		return false, fmt.Errorf("%w: unknown type %q", ErrMalformed, ev.Type)
	case !validUUID(ev.PatientID):
		return false, fmt.Errorf("%w: patient id %q is not a UUID", ErrMalformed, ev.PatientID)
	case ev.OccurredAt.IsZero():
		return false, fmt.Errorf("%w: no occurredAt", ErrMalformed)
	case ev.AgeBand != "" && !slices.Contains(AgeBands, ev.AgeBand):
		return false, fmt.Errorf("%w: unknown age band %q", ErrMalformed, ev.AgeBand)
	case !genders[ev.Gender]:
		return false, fmt.Errorf("%w: unknown gender %q", ErrMalformed, ev.Gender)
	}
	isNew, err := s.store.Record(ctx, ev)
	if err != nil {
		return false, fmt.Errorf("analytics.record: %w", err)
	}
	return isNew, nil
}

// Summary returns the aggregates.
func (s *Service) Summary(ctx context.Context) (Summary, error) {
	sum, err := s.store.Summary(ctx)
	if err != nil {
		return Summary{}, fmt.Errorf("analytics.summary: %w", err)
	}
	return sum, nil
}

func validUUID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}
