package patienttest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/apps/patient-service/internal/patient"
)

// NewRecord returns a valid new patient with email, its created event and
// audit entry.
func NewRecord(email string) (patient.Patient, patient.Event, patient.AuditEntry) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	p := patient.Patient{
		ID: uuid.NewString(), Name: "Ada " + email, Email: email, Address: "x", Phone: "+44 1", Gender: "female",
		MRN:            "MRN-" + uuid.NewString()[:8],
		DateOfBirth:    time.Date(1985, 12, 10, 0, 0, 0, 0, time.UTC),
		RegisteredDate: time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC),
		Version:        1, CreatedAt: now, UpdatedAt: now,
	}
	return p, patient.Event{ID: uuid.NewString(), Type: patient.EventCreated, Patient: p, OccurredAt: now},
		patient.AuditEntry{At: now, UserID: "u1", Role: "clinician", Action: "create", PatientIDs: []string{p.ID}, RequestID: "r", Outcome: "success"}
}

// StoreContract is what every patient.Store must do; newStore returns an
// empty store for one subtest.
func StoreContract(t *testing.T, newStore func(t *testing.T) patient.Store) {
	ctx := context.Background()
	t.Run("create then get", func(t *testing.T) {
		s := newStore(t)
		p, ev, a := NewRecord("contract-get@example.com")
		require.NoError(t, s.Create(ctx, p, ev, a, nil))
		got, err := s.Get(ctx, p.ID)
		require.NoError(t, err)
		assert.Equal(t, p.Email, got.Email)
		assert.Equal(t, p.Version, got.Version)
		_, err = s.Get(ctx, uuid.NewString())
		assert.ErrorIs(t, err, patient.ErrNotFound)
	})
	t.Run("updates only the version it read", func(t *testing.T) {
		s := newStore(t)
		p, ev, a := NewRecord("contract-version@example.com")
		require.NoError(t, s.Create(ctx, p, ev, a, nil))
		stale := p
		stale.Version = 3
		assert.ErrorIs(t, s.Update(ctx, stale, ev, a), patient.ErrVersionMismatch)
		next := p
		next.Version, next.Name = 2, "Ada Changed"
		ev.ID = uuid.NewString()
		require.NoError(t, s.Update(ctx, next, ev, a))
	})
	t.Run("pages an audit trail newest first, by action", func(t *testing.T) {
		s := newStore(t)
		p, ev, a := NewRecord("contract-audit@example.com")
		require.NoError(t, s.Create(ctx, p, ev, a, nil))
		other := uuid.NewString()
		for i := range 5 {
			e := a
			e.Action, e.RequestID = patient.ActionRead, fmt.Sprintf("read-%d", i)
			require.NoError(t, s.RecordAudit(ctx, e))
			e.PatientIDs, e.RequestID = []string{other}, fmt.Sprintf("other-%d", i)
			require.NoError(t, s.RecordAudit(ctx, e))
		}
		var seen []string
		q := patient.AuditQuery{Limit: 2}
		for pages := 0; ; pages++ {
			require.Less(t, pages, 4, "the pages end")
			page, err := s.AuditTrail(ctx, p.ID, q)
			require.NoError(t, err)
			for _, e := range page.Items {
				seen = append(seen, e.RequestID)
			}
			if page.Next == 0 {
				break
			}
			require.Len(t, page.Items, 2, "a page before the last is full")
			q.Before = page.Next
		}
		assert.Equal(t, []string{"read-4", "read-3", "read-2", "read-1", "read-0", "r"}, seen,
			"every entry naming the patient once, newest first")
		reads, err := s.AuditTrail(ctx, p.ID, patient.AuditQuery{Action: patient.ActionCreate, Limit: 10})
		require.NoError(t, err)
		require.Len(t, reads.Items, 1)
		assert.Equal(t, "r", reads.Items[0].RequestID)
		assert.Zero(t, reads.Next)
	})
	t.Run("refuses text PostgreSQL cannot store", func(t *testing.T) {
		s := newStore(t)
		for name, edit := range map[string]func(*patient.Patient){
			"NUL in a name":             func(p *patient.Patient) { p.Name = "Ada\x00" },
			"invalid UTF-8 in an email": func(p *patient.Patient) { p.Email = "a\xff@example.com" },
			"NUL in an address":         func(p *patient.Patient) { p.Address = "\x00" },
		} {
			p, ev, a := NewRecord("contract-text@example.com")
			edit(&p)
			ev.Patient = p
			assert.Error(t, s.Create(ctx, p, ev, a, nil), name)
		}
		for name, q := range map[string]patient.Query{
			"NUL in a name":            {Name: "a\x00", Limit: 10},
			"invalid UTF-8 in a query": {Q: "\xc0\xaf", Limit: 10},
		} {
			_, err := s.Search(ctx, q)
			assert.Error(t, err, name)
		}
		p, _, a := NewRecord("contract-audit@example.com")
		a.PatientIDs, a.Detail = []string{p.ID}, "name=\x00"
		assert.Error(t, s.RecordAudit(ctx, a), "NUL in an audit detail")
	})
}
