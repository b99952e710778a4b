package billing

import (
	"errors"
	"time"

	"github.com/pms-dapr/pms/platform/validation"
)

// Roles, as access tokens carry them.
const (
	RoleAdmin     = "admin"
	RoleClinician = "clinician"
	RoleBilling   = "billing"
)

// Audited actions.
const (
	ActionAccountOpen   = "account.open"
	ActionAccountList   = "account.list"
	ActionAccountRead   = "account.read"
	ActionEntriesRead   = "entries.read"
	ActionCharge        = "charge"
	ActionPayment       = "payment"
	ActionAdjustment    = "adjustment"
	ActionReversal      = "reversal"
	ActionPostingReplay = "posting.replay"
	ActionHold          = "account.hold"
	ActionRelease       = "account.release"
	ActionClose         = "account.close"
	ActionStatement     = "statement"
	ActionAuditRead     = "audit.read"
)

// permissions: which roles may perform each action. Clinicians record the
// charges for the care they give and look up the account to do so; billing
// staff work accounts; admins may do everything.
var permissions = map[string][]string{
	ActionAccountList: {RoleAdmin, RoleBilling, RoleClinician},
	ActionAccountRead: {RoleAdmin, RoleBilling, RoleClinician},
	ActionCharge:      {RoleAdmin, RoleBilling, RoleClinician},
	ActionEntriesRead: {RoleAdmin, RoleBilling},
	ActionPayment:     {RoleAdmin, RoleBilling},
	ActionAdjustment:  {RoleAdmin, RoleBilling},
	ActionReversal:    {RoleAdmin, RoleBilling},
	ActionHold:        {RoleAdmin, RoleBilling},
	ActionRelease:     {RoleAdmin, RoleBilling},
	ActionClose:       {RoleAdmin, RoleBilling},
	ActionStatement:   {RoleAdmin, RoleBilling},
	ActionAuditRead:   {RoleAdmin},
}

// Allowed reports whether role may perform action.
func Allowed(role, action string) bool {
	for _, r := range permissions[action] {
		if r == role {
			return true
		}
	}
	return false
}

// Actor is who is acting, from their verified access token, and the
// request they act in. The system itself (a patient event) acts as
// SystemActor.
type Actor struct {
	UserID    string
	Role      string
	RequestID string
}

// SystemActor is billing-service acting on an event, not on a request.
func SystemActor(eventID string) Actor {
	return Actor{UserID: "system:billing-service", Role: "system", RequestID: "event:" + eventID}
}

// AuditEntry records one access to billing data.
type AuditEntry struct {
	ID     int64 // assigned by the store; the cursor of audit pages
	At     time.Time
	UserID string
	Role   string
	Action string
	// The accounts read or changed: one, or every account a list showed.
	AccountIDs []string
	EntryID    string
	RequestID  string
	Outcome    string // "success", or why not
}

func (a Actor) entry(action string, at time.Time, entryID string, accountIDs ...string) AuditEntry {
	ids := make([]string, 0, len(accountIDs))
	for _, id := range accountIDs {
		if validUUID(id) {
			ids = append(ids, id)
		}
	}
	return AuditEntry{At: at, UserID: a.UserID, Role: a.Role, Action: action, AccountIDs: ids,
		EntryID: entryID, RequestID: a.RequestID, Outcome: "success"}
}

// outcome names what went wrong, for the audit trail.
func outcome(err error) string {
	var verr *validation.Error
	var serr *StatusError
	switch {
	case err == nil:
		return "success"
	case errors.As(err, &verr):
		return "invalid"
	case errors.As(err, &serr):
		return "refused-" + string(serr.Status)
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrEntryNotFound):
		return "not-found"
	case errors.Is(err, ErrVersionMismatch):
		return "stale-version"
	case errors.Is(err, ErrIdempotencyMismatch), errors.Is(err, ErrAlreadyReversed), errors.Is(err, ErrReverseReversal), errors.Is(err, ErrNoChange):
		return "conflict"
	case errors.Is(err, ErrForbidden):
		return "forbidden"
	default:
		return "error"
	}
}
