// Package patienttest holds what tests of patient's users share: an
// in-memory Store and the contract every Store must meet, which the fake
// and the PostgreSQL store both run, so the fake cannot drift from what
// the database accepts and refuses.
package patienttest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"

	"github.com/pms-dapr/pms/apps/patient-service/internal/patient"
	"github.com/pms-dapr/pms/platform/validation"
)

// ErrRefusedText is what FakeStore answers for text PostgreSQL cannot
// store (NUL, invalid UTF-8), as the database refuses it.
var ErrRefusedText = errors.New("patienttest: text PostgreSQL refuses (NUL or invalid UTF-8)")

// FakeStore keeps patients in memory, with the version checks the real
// store makes and the text it refuses. Err, when set, is returned by
// Create.
type FakeStore struct {
	mu       sync.Mutex
	Patients map[string]patient.Patient
	Events   []patient.Event
	Audit    []patient.AuditEntry
	History  []patient.Version
	Err      error
}

// NewFakeStore returns an empty FakeStore.
func NewFakeStore() *FakeStore { return &FakeStore{Patients: map[string]patient.Patient{}} }

func refusedText(texts ...string) error {
	for _, s := range texts {
		if validation.Unstorable(s) {
			return ErrRefusedText
		}
	}
	return nil
}

func patientText(p patient.Patient) []string {
	return []string{p.ID, p.Name, p.Email, p.Address, p.Phone, p.Gender, p.MRN}
}

func auditText(a patient.AuditEntry) []string {
	return append([]string{a.UserID, a.Role, a.Action, a.RequestID, a.Outcome, a.Detail}, a.PatientIDs...)
}

// Create stores p with its event and audit entry.
func (s *FakeStore) Create(_ context.Context, p patient.Patient, ev patient.Event, a patient.AuditEntry, _ *patient.IdempotencyKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return s.Err
	}
	if err := refusedText(append(patientText(p), auditText(a)...)...); err != nil {
		return err
	}
	s.Patients[p.ID] = p
	s.Events = append(s.Events, ev)
	s.Audit = append(s.Audit, a)
	s.History = append(s.History, patient.Version{Patient: p, Action: a.Action})
	return nil
}

// Get returns the stored patient or patient.ErrNotFound.
func (s *FakeStore) Get(_ context.Context, id string) (patient.Patient, error) {
	if err := refusedText(id); err != nil {
		return patient.Patient{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.Patients[id]
	if !ok {
		return patient.Patient{}, patient.ErrNotFound
	}
	return p, nil
}

func (s *FakeStore) write(p patient.Patient, ev patient.Event, a patient.AuditEntry) error {
	if err := refusedText(append(patientText(p), auditText(a)...)...); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.Patients[p.ID]
	if !ok {
		return patient.ErrNotFound
	}
	if cur.Version != p.Version-1 {
		return patient.ErrVersionMismatch
	}
	s.Patients[p.ID] = p
	s.Events = append(s.Events, ev)
	s.Audit = append(s.Audit, a)
	s.History = append(s.History, patient.Version{Patient: p, Action: a.Action})
	return nil
}

// Update replaces p if the stored version is p.Version-1.
func (s *FakeStore) Update(_ context.Context, p patient.Patient, ev patient.Event, a patient.AuditEntry) error {
	return s.write(p, ev, a)
}

// Delete soft-deletes p under the same condition as Update.
func (s *FakeStore) Delete(_ context.Context, p patient.Patient, ev patient.Event, a patient.AuditEntry) error {
	return s.write(p, ev, a)
}

// Search finds nothing, but refuses text as the database does.
func (s *FakeStore) Search(_ context.Context, q patient.Query) (patient.Page, error) {
	if err := refusedText(q.Name, q.Email, q.MRN, q.Q); err != nil {
		return patient.Page{}, err
	}
	return patient.Page{}, nil
}

// RecordAudit appends e.
func (s *FakeStore) RecordAudit(_ context.Context, e patient.AuditEntry) error {
	if err := refusedText(auditText(e)...); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Audit = append(s.Audit, e)
	return nil
}

// AuditTrail returns a page of the entries naming patientID, newest first;
// an entry's position is its place in Audit, from 1.
func (s *FakeStore) AuditTrail(_ context.Context, patientID string, q patient.AuditQuery) (patient.AuditPage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var page patient.AuditPage
	for i := len(s.Audit) - 1; i >= 0; i-- {
		e, pos := s.Audit[i], int64(i+1)
		if (q.Before != 0 && pos >= q.Before) || (q.Action != "" && e.Action != q.Action) || !slices.Contains(e.PatientIDs, patientID) {
			continue
		}
		if len(page.Items) == q.Limit {
			page.Next = pos + 1
			break
		}
		page.Items = append(page.Items, e)
	}
	return page, nil
}

// SetBillingAccount records acct for id unless it has one.
func (s *FakeStore) SetBillingAccount(_ context.Context, id, acct string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.Patients[id]
	if p.BillingAccountID == "" {
		p.BillingAccountID = acct
	}
	s.Patients[id] = p
	return nil
}

// SetBillingAccounts records each account as SetBillingAccount.
func (s *FakeStore) SetBillingAccounts(ctx context.Context, accounts map[string]string) error {
	for id, acct := range accounts {
		if err := s.SetBillingAccount(ctx, id, acct); err != nil {
			return err
		}
	}
	return nil
}

// MissingBillingAccount lists patients without an account.
func (s *FakeStore) MissingBillingAccount(context.Context, int) ([]patient.Patient, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []patient.Patient
	for _, p := range s.Patients {
		if p.BillingAccountID == "" {
			out = append(out, p)
		}
	}
	return out, nil
}

// CreateIfNone stores p unless a live patient matches q, which may hold
// only token filters on the MRN or email (the fake's reach).
func (s *FakeStore) CreateIfNone(ctx context.Context, _ string, q patient.Query, p patient.Patient, ev patient.Event, a patient.AuditEntry) ([]patient.Patient, error) {
	s.mu.Lock()
	var matches []patient.Patient
	for _, cur := range s.Patients {
		if !cur.Deleted() && fakeMatch(q, cur) {
			matches = append(matches, cur)
		}
	}
	s.mu.Unlock()
	if len(matches) > 0 {
		return matches, nil
	}
	return nil, s.Create(ctx, p, ev, a, nil)
}

func fakeMatch(q patient.Query, p patient.Patient) bool {
	for _, f := range q.Tokens {
		hit := false
		for _, m := range f.Any {
			switch m.Field {
			case patient.TokenMRN:
				hit = hit || strings.EqualFold(p.MRN, m.Value)
			case patient.TokenEmail:
				hit = hit || strings.EqualFold(p.Email, m.Value)
			default:
				panic("patienttest: FakeStore matches only MRN and email tokens")
			}
		}
		if !hit {
			return false
		}
	}
	return true
}

// Versions returns the stored versions of id older than before, newest
// first.
func (s *FakeStore) Versions(_ context.Context, id string, before int64, limit int) ([]patient.Version, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []patient.Version
	for i := len(s.History) - 1; i >= 0 && len(out) < limit; i-- {
		v := s.History[i]
		if v.Patient.ID == id && (before == 0 || v.Patient.Version < before) {
			out = append(out, v)
		}
	}
	return out, nil
}

// GetVersion returns version v of id, or patient.ErrNotFound.
func (s *FakeStore) GetVersion(_ context.Context, id string, v int64) (patient.Version, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ver := range s.History {
		if ver.Patient.ID == id && ver.Patient.Version == v {
			return ver, nil
		}
	}
	return patient.Version{}, patient.ErrNotFound
}
