package billing

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
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

// List returns a page of accounts and the cursor of the next (empty on the
// last page).
func (s *Service) List(ctx context.Context, a Actor, patientID, status string, limit int, cursor string) (accounts []Account, next string, err error) {
	err = s.audited(ctx, a, ActionAccountList, "", false, func() (string, []string, error) {
		q := AccountQuery{PatientID: patientID, Status: Status(status)}
		inv := validation.New("account query")
		if patientID != "" && !validUUID(patientID) {
			inv.Add("patient_id", "must be a UUID")
		}
		if status != "" && !validStatus(Status(status)) {
			inv.Add("status", "must be ACTIVE, ON_HOLD or CLOSED")
		}
		q.Limit = pageLimit(inv, limit)
		if cursor != "" {
			c, ok := decodeAccountCursor(cursor)
			if !ok {
				inv.Add("cursor", "must be a cursor this API returned")
			}
			q.After = c
		}
		if err := inv.Err(); err != nil {
			return "", nil, err
		}
		q.Limit++
		list, err := s.store.List(ctx, q)
		if err != nil {
			return "", nil, err
		}
		if len(list) == q.Limit {
			list = list[:len(list)-1]
			last := list[len(list)-1]
			next = encodeCursor(strconv.FormatInt(last.CreatedAt.UnixMicro(), 10) + "/" + last.ID)
		}
		accounts = list
		ids := make([]string, len(list))
		for i, acc := range list {
			ids[i] = acc.ID
		}
		return "", ids, nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("billing.list: %w", err)
	}
	return accounts, next, nil
}

// Get returns an account with its balance.
func (s *Service) Get(ctx context.Context, a Actor, id string) (acc Account, err error) {
	err = s.audited(ctx, a, ActionAccountRead, id, false, func() (string, []string, error) {
		if err := validID("account_id", id); err != nil {
			return "", nil, err
		}
		acc, err = s.store.Get(ctx, id)
		return "", nil, err
	})
	if err != nil {
		return Account{}, fmt.Errorf("billing.get: %w", err)
	}
	return acc, nil
}

// Entries returns a page of the account's ledger, newest first.
func (s *Service) Entries(ctx context.Context, a Actor, id string, limit int, cursor string) (entries []Entry, next string, err error) {
	err = s.audited(ctx, a, ActionEntriesRead, id, false, func() (string, []string, error) {
		var err error
		entries, next, err = newestFirst(ctx, s, "entries query", id, limit, cursor,
			func(before int64, n int) ([]Entry, error) { return s.store.Entries(ctx, id, before, n) },
			func(e Entry) int64 { return e.Sequence })
		return "", nil, err
	})
	if err != nil {
		return nil, "", fmt.Errorf("billing.entries: %w", err)
	}
	return entries, next, nil
}

// newestFirst reads one page of an account's items (entries, audit
// entries) keyed by a number that grows with each: it checks the query and
// that the account exists, and returns the page and the next one's cursor
// (empty on the last page).
func newestFirst[T any](ctx context.Context, s *Service, what, accountID string, limit int, cursor string,
	fetch func(before int64, n int) ([]T, error), key func(T) int64) ([]T, string, error) {
	inv := validation.New(what)
	if !validUUID(accountID) {
		inv.Add("account_id", "must be a UUID")
	}
	limit = pageLimit(inv, limit)
	var before int64
	if cursor != "" {
		n, err := strconv.ParseInt(decodeCursor(cursor), 10, 64)
		if err != nil || n < 1 {
			inv.Add("cursor", "must be a cursor this API returned")
		}
		before = n
	}
	if err := inv.Err(); err != nil {
		return nil, "", err
	}
	if _, err := s.store.Get(ctx, accountID); err != nil {
		return nil, "", err
	}
	list, err := fetch(before, limit+1)
	if err != nil {
		return nil, "", err
	}
	if len(list) <= limit {
		return list, "", nil
	}
	list = list[:limit]
	return list, encodeCursor(strconv.FormatInt(key(list[limit-1]), 10)), nil
}

// Entry returns one entry of the account.
func (s *Service) Entry(ctx context.Context, a Actor, accountID, entryID string) (e Entry, err error) {
	err = s.audited(ctx, a, ActionEntriesRead, accountID, false, func() (string, []string, error) {
		inv := validation.New("entry query")
		if !validUUID(accountID) {
			inv.Add("account_id", "must be a UUID")
		}
		if !validUUID(entryID) {
			inv.Add("entry_id", "must be a UUID")
		}
		if err := inv.Err(); err != nil {
			return "", nil, err
		}
		e, err = s.store.Entry(ctx, accountID, entryID)
		return e.ID, nil, err
	})
	if err != nil {
		return Entry{}, fmt.Errorf("billing.entry: %w", err)
	}
	return e, nil
}

// Charge is a charge as a clerk or clinician enters it.
type Charge struct {
	ServiceDate string // YYYY-MM-DD
	Code        string
	Description string
	Quantity    int64
	UnitPrice   int64
}

// Payment is a payment received.
type Payment struct {
	Amount    int64
	Method    Method
	Reference string
}

// Adjustment is a write-off, refund or correction.
type Adjustment struct {
	Type   AdjustmentType
	Amount int64
	Reason string
}

// Reversal names an entry to reverse.
type Reversal struct {
	EntryID string
	Reason  string
}

// PostCharge appends a charge to an active account.
func (s *Service) PostCharge(ctx context.Context, a Actor, accountID, key string, c Charge) (Entry, Account, bool, error) {
	c.Code, c.Description = strings.TrimSpace(c.Code), strings.TrimSpace(c.Description)
	inv := validation.New("charge")
	checkDate(inv, "service_date", c.ServiceDate, s.clock())
	if c.Code == "" || len(c.Code) > 20 || strings.ContainsFunc(c.Code, func(r rune) bool {
		return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-')
	}) {
		inv.Add("code", "must be 1 to 20 letters, digits, dots or hyphens (a CPT, HCPCS or local code)")
	}
	if c.Description == "" {
		inv.Add("description", "is required")
	} else {
		inv.Text("description", c.Description, 200)
	}
	if c.Quantity < 1 || c.Quantity > MaxQuantity {
		inv.Add("quantity", fmt.Sprintf("must be a whole number from 1 to %d", MaxQuantity))
	}
	if c.UnitPrice < 1 || c.UnitPrice > MaxUnitPrice {
		inv.Add("unit_price_minor", fmt.Sprintf("must be a whole number of minor units from 1 to %d", MaxUnitPrice))
	}
	total := c.Quantity * c.UnitPrice
	if inv.Err() == nil && total > MaxAmount {
		inv.Add("quantity", fmt.Sprintf("quantity × unit_price_minor must not exceed %d", MaxAmount))
	}
	e := Entry{Kind: KindCharge, Amount: total, ServiceDate: c.ServiceDate, Code: c.Code, Description: c.Description,
		Quantity: c.Quantity, UnitPrice: c.UnitPrice}
	return s.post(ctx, a, ActionCharge, accountID, key, inv, e)
}

// PostPayment appends a payment; closed and held accounts take payments.
func (s *Service) PostPayment(ctx context.Context, a Actor, accountID, key string, p Payment) (Entry, Account, bool, error) {
	p.Reference = strings.TrimSpace(p.Reference)
	inv := validation.New("payment")
	checkAmount(inv, p.Amount)
	if !validMethod(p.Method) {
		inv.Add("method", "must be one of CASH, CARD, CHECK, BANK_TRANSFER, INSURANCE")
	}
	inv.Text("reference", p.Reference, 100)
	e := Entry{Kind: KindPayment, Amount: -p.Amount, Method: p.Method, Reference: p.Reference}
	return s.post(ctx, a, ActionPayment, accountID, key, inv, e)
}

// PostAdjustment appends a write-off (lowers the balance), a refund
// (raises it) or a correction (either way).
func (s *Service) PostAdjustment(ctx context.Context, a Actor, accountID, key string, adj Adjustment) (Entry, Account, bool, error) {
	adj.Reason = strings.TrimSpace(adj.Reason)
	inv := validation.New("adjustment")
	amount := adj.Amount
	switch adj.Type {
	case AdjustWriteOff:
		checkAmount(inv, adj.Amount)
		amount = -adj.Amount
	case AdjustRefund:
		checkAmount(inv, adj.Amount)
	case AdjustCorrection:
		if adj.Amount == 0 || adj.Amount > MaxAmount || adj.Amount < -MaxAmount {
			inv.Add("amount_minor", fmt.Sprintf("must be a non-zero whole number of minor units from -%d to %d", MaxAmount, MaxAmount))
		}
	default:
		inv.Add("type", "must be WRITE_OFF, REFUND or CORRECTION")
	}
	if adj.Reason == "" {
		inv.Add("reason", "is required")
	} else {
		inv.Text("reason", adj.Reason, 200)
	}
	e := Entry{Kind: KindAdjustment, Amount: amount, AdjustmentType: adj.Type, Reason: adj.Reason}
	return s.post(ctx, a, ActionAdjustment, accountID, key, inv, e)
}

// ReverseEntry appends the reversal of an entry: the opposite amount,
// naming it. Allowed whatever the account's status: it only undoes.
func (s *Service) ReverseEntry(ctx context.Context, a Actor, accountID, key string, r Reversal) (Entry, Account, bool, error) {
	r.Reason = strings.TrimSpace(r.Reason)
	inv := validation.New("reversal")
	if !validUUID(r.EntryID) {
		inv.Add("entry_id", "must be the id of an entry of this account")
	}
	if r.Reason == "" {
		inv.Add("reason", "is required")
	} else {
		inv.Text("reason", r.Reason, 200)
	}
	e := Entry{Kind: KindReversal, Reason: r.Reason, Reverses: r.EntryID}
	return s.post(ctx, a, ActionReversal, accountID, key, inv, e)
}

// post validates the common parts of a posting and appends e under the
// account's lock.
func (s *Service) post(ctx context.Context, a Actor, action, accountID, key string, inv *validation.Error, e Entry) (Entry, Account, bool, error) {
	var change Change
	replayed := false
	err := s.audited(ctx, a, action, accountID, true, func() (string, []string, error) {
		if !validUUID(accountID) {
			inv.Add("account_id", "must be a UUID")
		}
		if !ValidIdempotencyKey(key) {
			inv.Add("Idempotency-Key", "is required: 1 to 255 visible ASCII characters, new for each posting")
		}
		if err := inv.Err(); err != nil {
			return "", nil, err
		}
		hash := requestHash(e)
		var err error
		change, err = s.store.Post(ctx, accountID, key, hash, e.Reverses, func(acc Account, target *Entry) (Change, error) {
			return s.decidePosting(a, action, acc, target, e, key, hash)
		})
		var replay *ReplayError
		if errors.As(err, &replay) {
			replayed = true
			acc, gerr := s.store.Get(ctx, accountID)
			if gerr != nil {
				return "", nil, gerr
			}
			change = Change{Entry: &replay.Entry, Account: acc}
		}
		return "", nil, err
	})
	if err != nil {
		return Entry{}, Account{}, false, fmt.Errorf("billing.%s: %w", action, err)
	}
	return *change.Entry, change.Account, replayed, nil
}

// decidePosting is the ledger's rule: which postings an account's status
// takes, what a reversal amounts to, and that the balance stays in range.
func (s *Service) decidePosting(a Actor, action string, acc Account, target *Entry, e Entry, key string, hash []byte) (Change, error) {
	switch {
	case e.Kind == KindCharge && acc.Status != StatusActive:
		return Change{}, &StatusError{Status: acc.Status, What: "charges"}
	case e.Kind == KindReversal:
		switch {
		case target == nil:
			return Change{}, ErrEntryNotFound
		case target.Kind == KindReversal:
			return Change{}, ErrReverseReversal
		case target.ReversedBy != "":
			return Change{}, ErrAlreadyReversed
		}
		e.Amount = -target.Amount
	}
	balance, ok := addBalance(acc.Balance, e.Amount)
	if !ok {
		field := "amount_minor"
		if e.Kind == KindCharge {
			field = "quantity"
		}
		return Change{}, validation.Field("posting", field, fmt.Sprintf("would take the balance beyond ±%d minor units", MaxBalance))
	}
	now := s.clock()
	e.ID, e.AccountID, e.Currency, e.PostedAt, e.PostedBy = uuid.NewString(), acc.ID, acc.Currency, now, a.UserID
	e.Sequence, e.BalanceAfter, e.IdempotencyKey, e.RequestHash = acc.EntryCount+1, balance, key, hash
	acc.Balance, acc.EntryCount, acc.Version, acc.UpdatedAt = balance, e.Sequence, acc.Version+1, now
	return Change{Account: acc, Entry: &e,
		Event: Event{ID: uuid.NewString(), Type: EventEntryPosted, Account: acc, Entry: &e, OccurredAt: now},
		Audit: a.entry(action, now, e.ID, acc.ID)}, nil
}

// StatusAction is a status change staff can make.
type StatusAction string

// Status actions.
const (
	Hold    StatusAction = "HOLD"
	Release StatusAction = "RELEASE"
	Close   StatusAction = "CLOSE"
)

// ChangeStatus holds, releases or closes the account if it is still at
// version expected.
func (s *Service) ChangeStatus(ctx context.Context, a Actor, accountID string, act StatusAction, expected int64) (acc Account, err error) {
	action := map[StatusAction]string{Hold: ActionHold, Release: ActionRelease, Close: ActionClose}[act]
	if action == "" {
		return Account{}, validation.Field("status change", "action", "must be HOLD, RELEASE or CLOSE")
	}
	err = s.audited(ctx, a, action, accountID, true, func() (string, []string, error) {
		if err := validID("account_id", accountID); err != nil {
			return "", nil, err
		}
		if expected < 1 {
			return "", nil, validation.Field("status change", "If-Match", "must be the ETag of the account")
		}
		c, err := s.store.Apply(ctx, accountID, func(cur Account, _ *Entry) (Change, error) {
			if cur.Version != expected {
				return Change{}, ErrVersionMismatch
			}
			return s.decideStatus(a, action, cur, act)
		})
		acc = c.Account
		return "", nil, err
	})
	if err != nil {
		return Account{}, fmt.Errorf("billing.%s: %w", action, err)
	}
	return acc, nil
}

// decideStatus is the lifecycle: ACTIVE ⇄ ON_HOLD, either → CLOSED, and
// CLOSED is final.
func (s *Service) decideStatus(a Actor, action string, acc Account, act StatusAction) (Change, error) {
	var to Status
	switch {
	case acc.Status == StatusClosed:
		return Change{}, &StatusError{Status: acc.Status, What: "status changes"}
	case act == Hold && acc.Status == StatusOnHold, act == Release && acc.Status == StatusActive:
		return Change{}, ErrNoChange
	case act == Hold:
		to = StatusOnHold
	case act == Release:
		to = StatusActive
	default:
		to = StatusClosed
	}
	now := s.clock()
	acc.Status, acc.Version, acc.UpdatedAt = to, acc.Version+1, now
	return Change{Account: acc, Event: Event{ID: uuid.NewString(), Type: EventStatusChanged, Account: acc, OccurredAt: now},
		Audit: a.entry(action, now, "", acc.ID)}, nil
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

// Statement is an account's ledger over a period.
type Statement struct {
	Account          Account
	From, To         string // YYYY-MM-DD, inclusive
	Opening, Closing int64
	Entries          []Entry // oldest first
	Charges          int64
	Payments         int64
	Adjustments      int64 // adjustments and reversals
	GeneratedAt      time.Time
}

// MaxStatementEntries bounds one statement; a longer period is refused
// with a request to narrow it.
const MaxStatementEntries = 2000

// Statement returns the account's entries posted from one UTC day to
// another, inclusive, with the balances before and after.
func (s *Service) Statement(ctx context.Context, a Actor, accountID, from, to string) (st Statement, err error) {
	err = s.audited(ctx, a, ActionStatement, accountID, false, func() (string, []string, error) {
		inv := validation.New("statement")
		if !validUUID(accountID) {
			inv.Add("account_id", "must be a UUID")
		}
		f, ferr := time.Parse(time.DateOnly, from)
		if ferr != nil {
			inv.Add("from", "must be a date, YYYY-MM-DD")
		}
		t, terr := time.Parse(time.DateOnly, to)
		if terr != nil {
			inv.Add("to", "must be a date, YYYY-MM-DD")
		}
		if ferr == nil && terr == nil && t.Before(f) {
			inv.Add("to", "must not be before from")
		}
		if err := inv.Err(); err != nil {
			return "", nil, err
		}
		acc, err := s.store.Get(ctx, accountID)
		if err != nil {
			return "", nil, err
		}
		opening, entries, err := s.store.Period(ctx, accountID, f, t.AddDate(0, 0, 1), MaxStatementEntries)
		if err != nil {
			return "", nil, err
		}
		if len(entries) > MaxStatementEntries {
			return "", nil, validation.Field("statement", "from", fmt.Sprintf("the period has more than %d entries; choose a shorter one", MaxStatementEntries))
		}
		st = Statement{Account: acc, From: from, To: to, Opening: opening, Closing: opening, Entries: entries, GeneratedAt: s.clock()}
		for _, e := range entries {
			st.Closing += e.Amount
			switch e.Kind {
			case KindCharge:
				st.Charges += e.Amount
			case KindPayment:
				st.Payments += e.Amount
			default:
				st.Adjustments += e.Amount
			}
		}
		return "", nil, nil
	})
	if err != nil {
		return Statement{}, fmt.Errorf("billing.statement: %w", err)
	}
	return st, nil
}

// Audit returns a page of the account's audit trail, newest first.
func (s *Service) Audit(ctx context.Context, a Actor, accountID string, limit int, cursor string) (entries []AuditEntry, next string, err error) {
	err = s.audited(ctx, a, ActionAuditRead, accountID, false, func() (string, []string, error) {
		var err error
		entries, next, err = newestFirst(ctx, s, "audit query", accountID, limit, cursor,
			func(before int64, n int) ([]AuditEntry, error) { return s.store.Audit(ctx, accountID, before, n) },
			func(e AuditEntry) int64 { return e.ID })
		return "", nil, err
	})
	if err != nil {
		return nil, "", fmt.Errorf("billing.audit: %w", err)
	}
	return entries, next, nil
}

// MaxIdempotencyKey is the longest Idempotency-Key accepted.
const MaxIdempotencyKey = 255

// ValidIdempotencyKey reports whether key is 1 to MaxIdempotencyKey
// visible ASCII characters. Every posting needs one: money is never posted
// twice because a response was lost.
func ValidIdempotencyKey(key string) bool {
	return key != "" && len(key) <= MaxIdempotencyKey && !strings.ContainsFunc(key, func(c rune) bool { return c < 0x21 || c > 0x7e })
}

// requestHash identifies what a posting asked for, so a retry with the same
// key can be told from a different posting with a reused key.
func requestHash(e Entry) []byte {
	b, _ := json.Marshal([]any{e.Kind, e.Amount, e.ServiceDate, e.Code, e.Description, e.Quantity, e.UnitPrice,
		e.Method, e.Reference, e.AdjustmentType, e.Reason, e.Reverses})
	sum := sha256.Sum256(b)
	return sum[:]
}

func validStatus(s Status) bool { return s == StatusActive || s == StatusOnHold || s == StatusClosed }

func validMethod(m Method) bool {
	for _, x := range Methods {
		if m == x {
			return true
		}
	}
	return false
}

func validID(field, id string) error {
	if !validUUID(id) {
		return validation.Field("billing request", field, "must be a UUID")
	}
	return nil
}

func checkAmount(inv *validation.Error, amount int64) {
	if amount < 1 || amount > MaxAmount {
		inv.Add("amount_minor", fmt.Sprintf("must be a whole number of minor units from 1 to %d", MaxAmount))
	}
}

// checkDate accepts a calendar date no later than today (UTC+14, the
// earliest time zone, so a date that is already today somewhere passes).
func checkDate(inv *validation.Error, field, v string, now time.Time) {
	d, err := time.Parse(time.DateOnly, v)
	switch {
	case err != nil:
		inv.Add(field, "must be a date, YYYY-MM-DD")
	case d.After(now.Add(14 * time.Hour)):
		inv.Add(field, "must not be in the future")
	case d.Year() < 1900:
		inv.Add(field, "must be after 1900")
	}
}

func pageLimit(inv *validation.Error, limit int) int {
	switch {
	case limit == 0:
		return DefaultLimit
	case limit < 1 || limit > MaxLimit:
		inv.Add("limit", fmt.Sprintf("must be from 1 to %d", MaxLimit))
		return DefaultLimit
	}
	return limit
}

func encodeCursor(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func decodeCursor(s string) string {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return ""
	}
	return string(b)
}

func decodeAccountCursor(s string) (*AccountCursor, bool) {
	micros, id, ok := strings.Cut(decodeCursor(s), "/")
	n, err := strconv.ParseInt(micros, 10, 64)
	if !ok || err != nil || !validUUID(id) {
		return nil, false
	}
	return &AccountCursor{CreatedAt: time.UnixMicro(n).UTC(), ID: id}, true
}
