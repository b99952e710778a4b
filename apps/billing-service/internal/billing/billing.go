// Package billing is billing-service's domain: one billing account per
// patient, its lifecycle (active, on hold, closed) and its ledger, an
// append-only list of charges, payments, adjustments and reversals whose
// sum is the balance.
//
// Money is an int64 number of minor units of the account's ISO 4217
// currency, everywhere: no floating point touches an amount.
package billing

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Errors the transport maps to status codes.
var (
	ErrNotFound            = errors.New("billing account not found")
	ErrEntryNotFound       = errors.New("ledger entry not found")
	ErrVersionMismatch     = errors.New("the account changed since it was read")
	ErrIdempotencyMismatch = errors.New("the idempotency key was used for another request")
	ErrForbidden           = errors.New("the caller's role may not do this")
	ErrAlreadyReversed     = errors.New("the entry has already been reversed")
	ErrReverseReversal     = errors.New("a reversal cannot be reversed")
	ErrNoChange            = errors.New("the account is already in that status")
)

// StatusError is a posting or change the account's status does not allow.
type StatusError struct {
	Status Status
	What   string // "charges", "release", …
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("the account is %s: it takes no %s", e.Status, e.What)
}

// Status of an account.
type Status string

// Account statuses.
const (
	StatusActive Status = "ACTIVE"
	StatusOnHold Status = "ON_HOLD"
	StatusClosed Status = "CLOSED"
)

// Account is one patient's billing account. It holds no contact details:
// whoever shows an account reads the patient's from patient-service, so no
// stale copy of them exists here.
type Account struct {
	ID         string
	PatientID  string
	Status     Status
	Currency   string
	Balance    int64 // minor units owed; negative: in credit
	EntryCount int64
	Version    int64
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Kind of a ledger entry.
type Kind string

// Entry kinds.
const (
	KindCharge     Kind = "CHARGE"
	KindPayment    Kind = "PAYMENT"
	KindAdjustment Kind = "ADJUSTMENT"
	KindReversal   Kind = "REVERSAL"
)

// AdjustmentType says why an adjustment was made.
type AdjustmentType string

// Adjustment types.
const (
	AdjustWriteOff   AdjustmentType = "WRITE_OFF"
	AdjustRefund     AdjustmentType = "REFUND"
	AdjustCorrection AdjustmentType = "CORRECTION"
)

// Method is how a payment was made.
type Method string

// Payment methods.
const (
	MethodCash         Method = "CASH"
	MethodCard         Method = "CARD"
	MethodCheck        Method = "CHECK"
	MethodBankTransfer Method = "BANK_TRANSFER"
	MethodInsurance    Method = "INSURANCE"
)

// Methods are the payment methods, in the order forms list them.
var Methods = []Method{MethodCash, MethodCard, MethodCheck, MethodBankTransfer, MethodInsurance}

// Entry is one ledger posting. It is never changed or deleted.
type Entry struct {
	ID           string
	AccountID    string
	Sequence     int64 // 1, 2, … per account
	Kind         Kind
	Amount       int64 // effect on the balance, minor units
	Currency     string
	BalanceAfter int64
	PostedAt     time.Time
	PostedBy     string
	// Charges.
	ServiceDate string // YYYY-MM-DD
	Code        string
	Description string
	Quantity    int64
	UnitPrice   int64
	// Payments.
	Method    Method
	Reference string
	// Adjustments.
	AdjustmentType AdjustmentType
	// Adjustments and reversals.
	Reason string
	// Reversals: the entry reversed.
	Reverses string
	// Read only: the entry that reversed this one.
	ReversedBy string
	// The posting's idempotency key and a hash of its request.
	IdempotencyKey string
	RequestHash    []byte
}

// EventType says what happened to an account.
type EventType string

// Event types (proto/billing/v1/events.proto).
const (
	EventEntryPosted   EventType = "ENTRY_POSTED"
	EventStatusChanged EventType = "ACCOUNT_STATUS_CHANGED"
)

// Event is one change to an account, published through the outbox.
// Opening an account is none: a registration already publishes the
// patient's event, and an account with nothing posted adds nothing to
// count.
type Event struct {
	ID         string
	Type       EventType
	Account    Account // after the change
	Entry      *Entry  // EventEntryPosted only
	OccurredAt time.Time
}

// Change is what a decision made under the account's lock writes: the
// account as it becomes, the entry it appends (if any), its event (if any:
// a zero Event is none) and its audit entry, all in one transaction.
type Change struct {
	Account Account
	Entry   *Entry
	Event   Event
	Audit   AuditEntry
}

// Page bounds and cursors.
const (
	DefaultLimit = 20
	MaxLimit     = 100
)

// AccountQuery selects accounts, newest first.
type AccountQuery struct {
	PatientID string
	Status    Status
	Limit     int
	// After is where the previous page ended (exclusive).
	After *AccountCursor
}

// AccountCursor is a position in the newest-first order of accounts.
type AccountCursor struct {
	CreatedAt time.Time
	ID        string
}

func validUUID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}
