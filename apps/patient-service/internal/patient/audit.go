package patient

import (
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pms-dapr/pms/platform/validation"
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
	// ActionImport is a bulk import: its submission (naming no patient)
	// and each batch it wrote (naming every patient of the batch).
	ActionImport = "import"
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

// Audit trail pages.
const (
	DefaultAuditLimit = 20
	MaxAuditLimit     = 100
)

// auditActions are the actions an audit trail can be filtered by.
var auditActions = []string{ActionCreate, ActionCreateReplay, ActionCreateMatch, ActionRead, ActionReadVersion,
	ActionHistory, ActionSearch, ActionUpdate, ActionPatch, ActionDelete, ActionAuditRead, ActionImport}

// AuditQuery selects one page of a patient's audit trail, newest first.
type AuditQuery struct {
	Action string // only entries of this action; "" for all
	Before int64  // keyset position: entries older than it (0: from the newest)
	Limit  int
}

// AuditPage is one page of an audit trail; Next is the position of the
// page after it (0 when there is none).
type AuditPage struct {
	Items []AuditEntry
	Next  int64
}

// AuditQueryInput is an audit trail page as a client asked for it.
type AuditQueryInput struct{ Action, Cursor, Limit string }

// Parse validates in.
func (in AuditQueryInput) Parse() (AuditQuery, error) {
	verr := validation.New("audit query")
	q := AuditQuery{Action: in.Action, Limit: parseLimit(verr, in.Limit, DefaultAuditLimit, MaxAuditLimit)}
	if q.Action != "" && !slices.Contains(auditActions, q.Action) {
		verr.Add("action", "must be one of "+strings.Join(auditActions, ", "))
	}
	if in.Cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(in.Cursor)
		n, perr := strconv.ParseInt(strings.TrimPrefix(string(raw), "audit."), 10, 64)
		if err != nil || perr != nil || n < 1 || !strings.HasPrefix(string(raw), "audit.") {
			verr.Add("cursor", "is not a cursor this API returned")
		}
		q.Before = n
	}
	if len(verr.Fields) > 0 {
		return AuditQuery{}, verr
	}
	return q, nil
}

// EncodeAuditCursor renders a page's position as an opaque token.
func EncodeAuditCursor(before int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("audit." + strconv.FormatInt(before, 10)))
}

// AuditTrail returns one page of the recorded accesses to patient id,
// newest first. Admins only; the reading is itself recorded.
func (s *Service) AuditTrail(ctx context.Context, a Actor, id string, q AuditQuery) (AuditPage, error) {
	var err error
	if a.Role != RoleAdmin {
		err = ErrForbidden
	} else if !ValidID(id) {
		err = ErrNotFound
	}
	if aerr := s.store.RecordAudit(ctx, a.outcome(a.entry(ActionAuditRead, s.clock(), id), err)); aerr != nil {
		return AuditPage{}, wrap("patient.audit_trail", aerr)
	}
	if err != nil {
		return AuditPage{}, err
	}
	page, err := s.store.AuditTrail(ctx, id, q)
	return page, wrap("patient.audit_trail", err)
}
