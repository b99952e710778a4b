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
	// RecordAll stores evs with one statement and one commit, skipping
	// ids already stored, and reports which were new (in evs' order).
	RecordAll(ctx context.Context, evs []Event) ([]bool, error)
	// RecordAllBilling is RecordAll for billing events.
	RecordAllBilling(ctx context.Context, evs []BillingEvent) ([]bool, error)
	Summary(ctx context.Context) (Summary, error)
}

// Service records and summarises events.
type Service struct{ store Store }

// NewService returns a Service over store.
func NewService(store Store) *Service { return &Service{store: store} }

var knownTypes = map[string]bool{"PATIENT_CREATED": true, "PATIENT_UPDATED": true, "PATIENT_DELETED": true}

// RecordAll validates evs and stores the valid ones together (one
// statement, one commit), returning each one's outcome in evs' order.
func (s *Service) RecordAll(ctx context.Context, evs []Event) []Result {
	return recordAll(ctx, "analytics.record", evs, validate, s.store.RecordAll, s.store.Record)
}

func validate(ev Event) error {
	switch {
	case !validUUID(ev.ID):
		return fmt.Errorf("%w: event id %q is not a UUID", ErrMalformed, ev.ID)
	case !knownTypes[ev.Type]:
		return fmt.Errorf("%w: unknown type %q", ErrMalformed, ev.Type)
	case !validUUID(ev.PatientID):
		return fmt.Errorf("%w: patient id %q is not a UUID", ErrMalformed, ev.PatientID)
	case ev.OccurredAt.IsZero():
		return fmt.Errorf("%w: no occurredAt", ErrMalformed)
	case ev.AgeBand != "" && !slices.Contains(AgeBands, ev.AgeBand):
		return fmt.Errorf("%w: unknown age band %q", ErrMalformed, ev.AgeBand)
	case !genders[ev.Gender]:
		return fmt.Errorf("%w: unknown gender %q", ErrMalformed, ev.Gender)
	}
	return nil
}

// Result is one event's outcome in a batch: stored (New: for the first
// time) when Err is nil.
type Result struct {
	New bool
	Err error
}

// recordAll validates evs, stores the valid ones with all, and reports
// each one's outcome. When the database refuses the batch for what one of
// its events holds (ErrRejected), each is stored on its own with one, so
// that only the events at fault fail.
func recordAll[E any](ctx context.Context, op string, evs []E, validate func(E) error,
	all func(context.Context, []E) ([]bool, error), one func(context.Context, E) (bool, error)) []Result {
	res := make([]Result, len(evs))
	var valid []E
	var at []int
	for i, ev := range evs {
		if err := validate(ev); err != nil {
			res[i].Err = err
			continue
		}
		valid, at = append(valid, ev), append(at, i)
	}
	if len(valid) == 0 {
		return res
	}
	isNew, err := all(ctx, valid)
	if err != nil && len(valid) > 1 && errors.Is(err, ErrRejected) {
		for j, ev := range valid {
			n, err := one(ctx, ev)
			if err != nil {
				err = fmt.Errorf("%s: %w", op, err)
			}
			res[at[j]] = Result{New: n, Err: err}
		}
		return res
	}
	for j, i := range at {
		if err != nil {
			res[i].Err = fmt.Errorf("%s: %w", op, err)
		} else {
			res[i].New = isNew[j]
		}
	}
	return res
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
