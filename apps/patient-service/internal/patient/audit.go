package patient

import (
	"context"
	"errors"
	"github.com/pms-dapr/pms/platform/validation"
	"time"
)

// RoleAdmin is the role that may delete, list deleted records and read
// audit trails.
const RoleAdmin = "admin"

// Audited actions.
const (
	ActionCreate       = "create"
	ActionCreateReplay = "create.replay"
	ActionCreateMatch  = "create.match" // a conditional create found its patient
	ActionRead         = "read"
	ActionReadVersion  = "read.version"
	ActionHistory      = "history"
	ActionSearch       = "search"
	ActionUpdate       = "update"
	ActionPatch        = "patch"
	ActionDelete       = "delete"
	ActionAuditRead    = "audit.read"
)

// Actor is who is acting, from their verified access token, and the
// request they act in.
type Actor struct {
	UserID    string
	Role      string
	RequestID string
}

// AuditEntry records one access to patient data.
type AuditEntry struct {
	At         time.Time
	UserID     string
	Role       string
	Action     string
	PatientIDs []string
	RequestID  string
	Outcome    string // "success", or why not: "invalid", "not-found", "conflict", …
	Detail     string
}

func (a Actor) entry(action string, at time.Time, patientIDs ...string) AuditEntry {
	ids := make([]string, 0, len(patientIDs))
	for _, id := range patientIDs {
		if ValidID(id) {
			ids = append(ids, id)
		}
	}
	return AuditEntry{At: at, UserID: a.UserID, Role: a.Role, Action: action, PatientIDs: ids,
		RequestID: a.RequestID, Outcome: "success"}
}

// outcome sets e's outcome from err.
func (a Actor) outcome(e AuditEntry, err error) AuditEntry {
	var verr *validation.Error
	switch {
	case err == nil:
	case errors.As(err, &verr):
		e.Outcome = "invalid"
	case errors.Is(err, ErrNotFound):
		e.Outcome = "not-found"
	case errors.Is(err, ErrGone):
		e.Outcome = "gone"
	case errors.Is(err, ErrVersionMismatch):
		e.Outcome = "stale-version"
	case errors.Is(err, ErrEmailTaken), errors.Is(err, ErrMRNTaken), errors.Is(err, ErrIdempotencyMismatch), errors.Is(err, ErrMultipleMatches):
		e.Outcome = "conflict"
	case errors.Is(err, ErrForbidden):
		e.Outcome = "forbidden"
	default:
		e.Outcome = "error"
	}
	return e
}

// AuditTrail lists every recorded access to patient id, oldest first.
// Admins only; the reading is itself recorded.
func (s *Service) AuditTrail(ctx context.Context, a Actor, id string) ([]AuditEntry, error) {
	var err error
	if a.Role != RoleAdmin {
		err = ErrForbidden
	} else if !ValidID(id) {
		err = ErrNotFound
	}
	if aerr := s.store.RecordAudit(ctx, a.outcome(a.entry(ActionAuditRead, s.clock(), id), err)); aerr != nil {
		return nil, wrap("patient.audit_trail", aerr)
	}
	if err != nil {
		return nil, err
	}
	entries, err := s.store.AuditTrail(ctx, id)
	return entries, wrap("patient.audit_trail", err)
}
