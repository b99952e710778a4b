package billing

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/pms-dapr/pms/platform/requestid"
	"github.com/pms-dapr/pms/platform/validation"
)

// Decide is a decision taken under the account's lock: given the account
// as stored (and, for a reversal, the entry it names), the change to write.
type Decide func(acc Account, target *Entry) (Change, error)

// Store persists accounts, their ledgers and audit trail. Every write
// stores its event (outbox) and its audit entry in the same transaction.
type Store interface {
	// Open inserts the change's account unless the patient has one, and
	// returns the patient's account and whether this call created it.
	Open(ctx context.Context, c Change) (Account, bool, error)
	// OpenMany does what Open does for each account, in one transaction
	// with one audit entry naming the accounts it created (audit's
	// AccountIDs are filled in). It returns each patient's account and
	// whether this call created it, in the order of accounts.
	OpenMany(ctx context.Context, accounts []Account, audit AuditEntry) ([]Account, []bool, error)
	GetByPatient(ctx context.Context, patientID string) (Account, error)
	Get(ctx context.Context, id string) (Account, error)
	List(ctx context.Context, q AccountQuery) ([]Account, error)
	// Post locks the account and, unless an entry already has the key
	// (then *ReplayError or ErrIdempotencyMismatch), runs decide and writes
	// its change. Postings to one account run one after another.
	Post(ctx context.Context, accountID, key string, hash []byte, reverses string, decide Decide) (Change, error)
	// Apply locks the account, runs decide and writes its change.
	Apply(ctx context.Context, accountID string, decide Decide) (Change, error)
	// CloseForPatient records eventID as handled and, the first time only,
	// locks the patient's account and writes decide's change (a nil Entry
	// and zero Account mean nothing to write). handled is false for an
	// event handled before.
	CloseForPatient(ctx context.Context, eventID, patientID string, decide Decide) (handled bool, err error)
	// Entry returns one entry of the account, or ErrEntryNotFound.
	Entry(ctx context.Context, accountID, entryID string) (Entry, error)
	// Entries returns up to limit entries with sequence below before (0:
	// from the newest), newest first.
	Entries(ctx context.Context, accountID string, before int64, limit int) ([]Entry, error)
	// Period returns the sum of the amounts posted before from and the
	// entries posted in [from, to), oldest first, at most limit+1 of them.
	Period(ctx context.Context, accountID string, from, to time.Time, limit int) (opening int64, entries []Entry, err error)
	RecordAudit(ctx context.Context, e AuditEntry) error
	// Audit returns up to limit audit entries of the account with ids
	// below before (0: from the newest), newest first.
	Audit(ctx context.Context, accountID string, before int64, limit int) ([]AuditEntry, error)
}

// ReplayError says a posting was a retry: Entry is what the first attempt
// posted.
type ReplayError struct{ Entry Entry }

func (e *ReplayError) Error() string { return "posting already done for this idempotency key" }

// Service is the billing domain.
type Service struct {
	store           Store
	now             func() time.Time
	defaultCurrency string
}

// NewService returns a Service over store opening accounts in currency
// (an ISO 4217 code).
func NewService(store Store, currency string) (*Service, error) {
	iso, _, ok := Currency(currency)
	if !ok {
		return nil, fmt.Errorf("billing: %q is not an ISO 4217 currency code", currency)
	}
	return &Service{store: store, now: time.Now, defaultCurrency: iso}, nil
}

// WithClock makes the service read time from now (tests).
func (s *Service) WithClock(now func() time.Time) *Service { s.now = now; return s }

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Open returns the patient's account, creating it on the first call.
func (s *Service) Open(ctx context.Context, patientID string) (Account, bool, error) {
	if !validUUID(patientID) {
		return Account{}, false, validation.Field("billing request", "patient_id", "must be a UUID")
	}
	now := s.clock()
	a := Account{ID: uuid.NewString(), PatientID: patientID, Status: StatusActive, Currency: s.defaultCurrency,
		Version: 1, CreatedAt: now, UpdatedAt: now}
	opener := Actor{UserID: "service:patient-service", Role: "service", RequestID: requestid.From(ctx)}
	c := Change{Account: a, Audit: opener.entry(ActionAccountOpen, now, "", a.ID)}
	stored, created, err := s.store.Open(ctx, c)
	if err != nil {
		return Account{}, false, fmt.Errorf("billing.open: %w", err)
	}
	return stored, created, nil
}

// MaxOpenMany bounds the patients of one OpenMany.
const MaxOpenMany = 1000

// OpenMany opens the accounts of patientIDs (a bulk import's) as Open
// does each, in one transaction audited once: each patient's account,
// and whether this call created it, in the order of patientIDs.
func (s *Service) OpenMany(ctx context.Context, patientIDs []string) ([]Account, []bool, error) {
	if len(patientIDs) == 0 || len(patientIDs) > MaxOpenMany {
		return nil, nil, validation.Field("billing request", "patient_ids", fmt.Sprintf("must list 1 to %d patients", MaxOpenMany))
	}
	seen := make(map[string]bool, len(patientIDs))
	now := s.clock()
	accounts := make([]Account, len(patientIDs))
	for i, id := range patientIDs {
		if !validUUID(id) {
			return nil, nil, validation.Field("billing request", fmt.Sprintf("patient_ids[%d]", i), "must be a UUID")
		}
		if seen[id] {
			return nil, nil, validation.Field("billing request", fmt.Sprintf("patient_ids[%d]", i), "is listed twice")
		}
		seen[id] = true
		accounts[i] = Account{ID: uuid.NewString(), PatientID: id, Status: StatusActive, Currency: s.defaultCurrency,
			Version: 1, CreatedAt: now, UpdatedAt: now}
	}
	opener := Actor{UserID: "service:patient-service", Role: "service", RequestID: requestid.From(ctx)}
	stored, created, err := s.store.OpenMany(ctx, accounts, opener.entry(ActionAccountOpen, now, ""))
	if err != nil {
		return nil, nil, fmt.Errorf("billing.open_many: %w", err)
	}
	return stored, created, nil
}

// GetByPatient returns the account of patientID (service to service).
func (s *Service) GetByPatient(ctx context.Context, patientID string) (Account, error) {
	if !validUUID(patientID) {
		return Account{}, validation.Field("billing request", "patient_id", "must be a UUID")
	}
	a, err := s.store.GetByPatient(ctx, patientID)
	if err != nil {
		return Account{}, fmt.Errorf("billing.get: %w", err)
	}
	return a, nil
}

// audited runs fn as action for actor on accountID after the role check,
// and records the audit entry of a read (a write records its own, in its
// transaction) or of any failure.
//
// The entry names accountID, or the accounts fn returns (a list names every
// account it showed).
func (s *Service) audited(ctx context.Context, a Actor, action, accountID string, write bool, fn func() (entryID string, accounts []string, err error)) error {
	var entryID string
	var accounts []string
	err := ErrForbidden
	if Allowed(a.Role, action) {
		entryID, accounts, err = fn()
	}
	if accounts == nil {
		accounts = []string{accountID}
	}
	if err == nil && write {
		return nil
	}
	var replay *ReplayError
	if errors.As(err, &replay) {
		action, entryID, err = ActionPostingReplay, replay.Entry.ID, nil
	}
	e := a.entry(action, s.clock(), entryID, accounts...)
	e.Outcome = outcome(err)
	if aerr := s.store.RecordAudit(ctx, e); aerr != nil {
		if err == nil {
			// A read whose access cannot be recorded is not answered.
			return fmt.Errorf("billing.audit: %w", aerr)
		}
		return errors.Join(err, fmt.Errorf("billing.audit: %w", aerr))
	}
	return err
}

// PatientDeleted closes the patient's account, once per event: a
// redelivered event, or one for a patient whose account is already closed,
// changes nothing. A patient without an account yet gets a closed one if
// it is opened later (patient-service's reconciler may still open it). It reports whether it closed an account and whether the
// event had been handled before.
func (s *Service) PatientDeleted(ctx context.Context, eventID, patientID string) (closed, duplicate bool, err error) {
	if !validUUID(eventID) || !validUUID(patientID) {
		return false, false, validation.Field("patient event", "event_id", "event and patient ids must be UUIDs")
	}
	handled, err := s.store.CloseForPatient(ctx, eventID, patientID, func(acc Account, _ *Entry) (Change, error) {
		if acc.Status == StatusClosed {
			return Change{}, nil
		}
		c, err := s.decideStatus(SystemActor(eventID), ActionClose, acc, Close)
		closed = err == nil
		return c, err
	})
	if err != nil {
		return false, false, fmt.Errorf("billing.patient_deleted: %w", err)
	}
	return closed, !handled, nil
}

func validID(field, id string) error {
	if !validUUID(id) {
		return validation.Field("billing request", field, "must be a UUID")
	}
	return nil
}
