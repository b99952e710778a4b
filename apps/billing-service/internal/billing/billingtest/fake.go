// Package billingtest has an in-memory billing.Store for unit tests and the
// contract every billing.Store must meet (run against it and PostgreSQL).
package billingtest

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/pms-dapr/pms/apps/billing-service/internal/billing"
	"github.com/pms-dapr/pms/apps/billing-service/internal/billingevents"
	"github.com/pms-dapr/pms/platform/outbox"
	"github.com/pms-dapr/pms/platform/validation"
)

// Store is an in-memory billing.Store. One lock serialises every write, as
// the account row lock does in PostgreSQL.
type Store struct {
	mu        sync.Mutex
	accounts  map[string]billing.Account
	entries   map[string][]billing.Entry // by account, oldest first
	audit     []billing.AuditEntry
	processed map[string]bool
	deleted   map[string]bool // patients deleted before their account opened
	// Events is every event written, in commit order, encoded as the
	// outbox would carry it.
	Events []outbox.Message
}

// NewStore returns an empty Store.
func NewStore() *Store {
	return &Store{accounts: map[string]billing.Account{}, entries: map[string][]billing.Entry{}, processed: map[string]bool{},
		deleted: map[string]bool{}}
}

var _ billing.Store = (*Store)(nil)

// Open inserts c.Account unless its patient has an account.
func (s *Store) Open(_ context.Context, c billing.Change) (billing.Account, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.accounts {
		if a.PatientID == c.Account.PatientID {
			return a, false, nil
		}
	}
	if s.deleted[c.Account.PatientID] {
		c.Account.Status = billing.StatusClosed
	}
	if err := s.write(c); err != nil {
		return billing.Account{}, false, err
	}
	return c.Account, true, nil
}

// OpenMany opens each account as Open does, audited once.
func (s *Store) OpenMany(_ context.Context, accounts []billing.Account, audit billing.AuditEntry) ([]billing.Account, []bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	byPatient := map[string]billing.Account{}
	for _, a := range s.accounts {
		byPatient[a.PatientID] = a
	}
	out, created := make([]billing.Account, len(accounts)), make([]bool, len(accounts))
	for i, a := range accounts {
		if have, ok := byPatient[a.PatientID]; ok {
			out[i] = have
			continue
		}
		if s.deleted[a.PatientID] {
			a.Status = billing.StatusClosed
		}
		s.accounts[a.ID], byPatient[a.PatientID] = a, a
		out[i], created[i] = a, true
		audit.AccountIDs = append(audit.AccountIDs, a.ID)
	}
	if len(audit.AccountIDs) > 0 {
		s.appendAudit(audit)
	}
	return out, created, nil
}

// GetByPatient returns the patient's account.
func (s *Store) GetByPatient(_ context.Context, patientID string) (billing.Account, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.accounts {
		if a.PatientID == patientID {
			return a, nil
		}
	}
	return billing.Account{}, billing.ErrNotFound
}

// Get returns an account.
func (s *Store) Get(_ context.Context, id string) (billing.Account, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.accounts[id]
	if !ok {
		return billing.Account{}, billing.ErrNotFound
	}
	return a, nil
}

// List returns matching accounts, newest first.
func (s *Store) List(_ context.Context, q billing.AccountQuery) ([]billing.Account, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []billing.Account
	for _, a := range s.accounts {
		if (q.PatientID == "" || a.PatientID == q.PatientID) && (q.Status == "" || a.Status == q.Status) &&
			(q.After == nil || before(a, *q.After)) {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(x, y billing.Account) int {
		if before(x, billing.AccountCursor{CreatedAt: y.CreatedAt, ID: y.ID}) {
			return 1
		}
		return -1
	})
	return out[:min(len(out), q.Limit)], nil
}

// before reports whether a comes after c in newest-first order.
func before(a billing.Account, c billing.AccountCursor) bool {
	return a.CreatedAt.Before(c.CreatedAt) || a.CreatedAt.Equal(c.CreatedAt) && a.ID < c.ID
}

// Post appends decide's entry unless key was used.
func (s *Store) Post(_ context.Context, accountID, key string, hash []byte, reverses string, decide billing.Decide) (billing.Change, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	acc, ok := s.accounts[accountID]
	if !ok {
		return billing.Change{}, billing.ErrNotFound
	}
	var target *billing.Entry
	for _, e := range s.entries[accountID] {
		if e.IdempotencyKey == key {
			if string(e.RequestHash) == string(hash) {
				return billing.Change{}, &billing.ReplayError{Entry: s.withReversal(e)}
			}
			return billing.Change{}, billing.ErrIdempotencyMismatch
		}
		if e.ID == reverses {
			t := s.withReversal(e)
			target = &t
		}
	}
	c, err := decide(acc, target)
	if err != nil {
		return billing.Change{}, err
	}
	return c, s.write(c)
}

// Apply writes decide's change.
func (s *Store) Apply(_ context.Context, accountID string, decide billing.Decide) (billing.Change, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	acc, ok := s.accounts[accountID]
	if !ok {
		return billing.Change{}, billing.ErrNotFound
	}
	c, err := decide(acc, nil)
	if err != nil {
		return billing.Change{}, err
	}
	return c, s.write(c)
}

// CloseForPatient handles eventID once.
func (s *Store) CloseForPatient(_ context.Context, eventID, patientID string, decide billing.Decide) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.processed[eventID] {
		return false, nil
	}
	found := false
	for _, a := range s.accounts {
		if a.PatientID != patientID {
			continue
		}
		found = true
		c, err := decide(a, nil)
		if err != nil {
			return false, err
		}
		if c.Account.ID != "" {
			if err := s.write(c); err != nil {
				return false, err
			}
		}
	}
	if !found {
		s.deleted[patientID] = true
	}
	s.processed[eventID] = true
	return true, nil
}

// write applies c as one transaction would: all of it or (on an error)
// nothing. It refuses text PostgreSQL would refuse.
func (s *Store) write(c billing.Change) error {
	if e := c.Entry; e != nil {
		for _, v := range []string{e.Code, e.Description, e.Reference, e.Reason, e.PostedBy, e.IdempotencyKey} {
			if validation.Unstorable(v) {
				return validation.Field("posting", "text", "invalid text")
			}
		}
	}
	var events []outbox.Message
	if c.Event.ID != "" {
		m, err := billingevents.Encode(c.Event)
		if err != nil {
			return err
		}
		events = append(events, m)
	}
	s.accounts[c.Account.ID] = c.Account
	if c.Entry != nil {
		s.entries[c.Account.ID] = append(s.entries[c.Account.ID], *c.Entry)
	}
	s.Events = append(s.Events, events...)
	s.appendAudit(c.Audit)
	return nil
}

func (s *Store) appendAudit(e billing.AuditEntry) {
	e.ID = int64(len(s.audit) + 1)
	s.audit = append(s.audit, e)
}

// withReversal fills e.ReversedBy.
func (s *Store) withReversal(e billing.Entry) billing.Entry {
	for _, r := range s.entries[e.AccountID] {
		if r.Reverses == e.ID {
			e.ReversedBy = r.ID
		}
	}
	return e
}

// Entry returns one entry.
func (s *Store) Entry(_ context.Context, accountID, entryID string) (billing.Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.entries[accountID] {
		if e.ID == entryID {
			return s.withReversal(e), nil
		}
	}
	return billing.Entry{}, billing.ErrEntryNotFound
}

// Entries returns a page of the ledger, newest first.
func (s *Store) Entries(_ context.Context, accountID string, before int64, limit int) ([]billing.Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []billing.Entry
	list := s.entries[accountID]
	for i := len(list) - 1; i >= 0 && len(out) < limit; i-- {
		if before == 0 || list[i].Sequence < before {
			out = append(out, s.withReversal(list[i]))
		}
	}
	return out, nil
}

// Period returns the balance before from and the entries of [from, to).
func (s *Store) Period(_ context.Context, accountID string, from, to time.Time, limit int) (int64, []billing.Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var opening int64
	var out []billing.Entry
	for _, e := range s.entries[accountID] {
		switch {
		case e.PostedAt.Before(from):
			opening += e.Amount
		case e.PostedAt.Before(to) && len(out) <= limit:
			out = append(out, s.withReversal(e))
		}
	}
	return opening, out, nil
}

// RecordAudit appends e.
func (s *Store) RecordAudit(_ context.Context, e billing.AuditEntry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.appendAudit(e)
	return nil
}

// Audit returns a page of the account's trail, newest first.
func (s *Store) Audit(_ context.Context, accountID string, before int64, limit int) ([]billing.AuditEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []billing.AuditEntry
	for i := len(s.audit) - 1; i >= 0 && len(out) < limit; i-- {
		if e := s.audit[i]; slices.Contains(e.AccountIDs, accountID) && (before == 0 || e.ID < before) {
			out = append(out, e)
		}
	}
	return out, nil
}
