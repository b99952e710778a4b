package patient

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"
)

// EventType names a change to a patient record.
type EventType string

// The event types patient-service publishes.
const (
	EventCreated EventType = "PATIENT_CREATED"
	EventUpdated EventType = "PATIENT_UPDATED"
	EventDeleted EventType = "PATIENT_DELETED"
)

// Event is one change, written to the outbox in the change's transaction and
// published to the event topic afterwards.
type Event struct {
	ID         string
	Type       EventType
	Patient    Patient // the record after the change
	OccurredAt time.Time
}

// IdempotencyKey ties a client's retry key to the create it made.
type IdempotencyKey struct {
	UserID      string
	Key         string
	RequestHash []byte
}

// ReplayError says a create was a retry: PatientID is what the first
// attempt created.
type ReplayError struct{ PatientID string }

func (e *ReplayError) Error() string { return "create already done for this idempotency key" }

// Store persists patients. Every write stores its event and its audit entry
// in the same transaction.
type Store interface {
	// Create inserts p. With a key it first claims the key; a key already
	// claimed with the same hash gives *ReplayError, with another hash
	// ErrIdempotencyMismatch.
	Create(ctx context.Context, p Patient, ev Event, audit AuditEntry, key *IdempotencyKey) error
	// Get returns the patient, deleted or not.
	Get(ctx context.Context, id string) (Patient, error)
	// Update replaces the client-writable fields of p.ID and stores
	// p.Version, if the stored version is p.Version-1 and the record is
	// live.
	Update(ctx context.Context, p Patient, ev Event, audit AuditEntry) error
	// Delete soft-deletes p.ID at p.DeletedAt with version p.Version, under
	// the same condition as Update.
	Delete(ctx context.Context, p Patient, ev Event, audit AuditEntry) error
	Search(ctx context.Context, q Query) (Page, error)
	// CreateIfNone inserts p, its event and audit entry unless a live
	// patient matches q, and otherwise returns the matches (at most two).
	// Calls with the same criteria run one after another.
	CreateIfNone(ctx context.Context, criteria string, q Query, p Patient, ev Event, audit AuditEntry) ([]Patient, error)
	// Versions returns up to limit versions of patient id older than
	// version before (0: from the newest), newest first.
	Versions(ctx context.Context, id string, before int64, limit int) ([]Version, error)
	// GetVersion returns version v of patient id, or ErrNotFound.
	GetVersion(ctx context.Context, id string, v int64) (Version, error)
	RecordAudit(ctx context.Context, e AuditEntry) error
	// AuditTrail returns one page of the entries naming patientID, newest
	// first, after q.Before and of q.Action when set.
	AuditTrail(ctx context.Context, patientID string, q AuditQuery) (AuditPage, error)
	SetBillingAccount(ctx context.Context, id, accountID string) error
	// SetBillingAccounts records the accounts (patient id → account id) of
	// many patients; as SetBillingAccount, an account recorded is kept.
	SetBillingAccounts(ctx context.Context, accounts map[string]string) error
	MissingBillingAccount(ctx context.Context, limit int) ([]Patient, error)
}

// Billing opens billing accounts, idempotent on patient id.
type Billing interface {
	CreateAccount(ctx context.Context, p Patient) (accountID string, err error)
	// CreateAccounts opens the accounts of up to MaxAccountsAtOnce
	// patients in one call and returns their ids in the order of ids.
	CreateAccounts(ctx context.Context, ids []string) (accountIDs []string, err error)
}

// MaxAccountsAtOnce is how many accounts one Billing.CreateAccounts opens.
const MaxAccountsAtOnce = 1000

// Service registers and maintains patients.
type Service struct {
	store   Store
	billing Billing
	log     *slog.Logger
	now     func() time.Time
	// reconcile wakes ReconcileBilling before its interval (WakeReconciler).
	reconcile chan struct{}
}

// NewService returns a Service over store and billing.
func NewService(store Store, billing Billing, log *slog.Logger) *Service {
	return &Service{store: store, billing: billing, log: log, now: time.Now, reconcile: make(chan struct{}, 1)}
}

// Create validates d and stores the patient with its PATIENT_CREATED event,
// then asks billing for an account. A billing failure does not fail the
// registration: the patient is returned without an account and
// ReconcileBilling opens it later. With an idempotency key, a retry returns
// the patient the first attempt created (replayed true).
func (s *Service) Create(ctx context.Context, a Actor, d Draft, key string) (p Patient, replayed bool, err error) {
	var idem *IdempotencyKey
	if key != "" {
		idem = &IdempotencyKey{UserID: a.UserID, Key: key, RequestHash: hashDraft(d)}
	}
	p, err = s.insert(ctx, a, d, func(p Patient, ev Event, e AuditEntry) error {
		return s.store.Create(ctx, p, ev, e, idem)
	})
	var replay *ReplayError
	if errors.As(err, &replay) {
		p, err = s.store.Get(ctx, replay.PatientID)
		if err == nil {
			err = s.store.RecordAudit(ctx, a.entry(ActionCreateReplay, s.clock(), p.ID))
		}
		return p, true, wrap("patient.create", err)
	}
	if err != nil {
		s.auditFailure(ctx, a, ActionCreate, "", err)
		return Patient{}, false, wrap("patient.create", err)
	}
	return s.withAccount(ctx, p), false, nil
}

// CreateIfNoneExist is FHIR's conditional create: it registers the patient
// d describes unless a live patient matches q, and then returns that one
// (created false). Calls with the same criteria (q's canonical text) are
// serialised in the database, so concurrent ones make one patient; two or
// more matches give ErrMultipleMatches.
func (s *Service) CreateIfNoneExist(ctx context.Context, a Actor, d Draft, q Query, criteria string) (Patient, bool, error) {
	var matches []Patient
	p, err := s.insert(ctx, a, d, func(p Patient, ev Event, e AuditEntry) error {
		var err error
		matches, err = s.store.CreateIfNone(ctx, criteria, q, p, ev, e)
		return err
	})
	if err == nil && len(matches) > 1 {
		err = ErrMultipleMatches
	}
	if err != nil {
		s.auditFailure(ctx, a, ActionCreate, "", err)
		return Patient{}, false, wrap("patient.create", err)
	}
	if len(matches) == 1 {
		e := a.entry(ActionCreateMatch, s.clock(), matches[0].ID)
		e.Detail = criteria
		if err := s.store.RecordAudit(ctx, e); err != nil {
			return Patient{}, false, wrap("patient.create", err)
		}
		return matches[0], false, nil
	}
	return s.withAccount(ctx, p), true, nil
}

// insert validates d and stores it as a new patient through store, with
// its PATIENT_CREATED event and audit entry. A generated MRN that is taken
// is generated again.
func (s *Service) insert(ctx context.Context, a Actor, d Draft, store func(Patient, Event, AuditEntry) error) (Patient, error) {
	now := s.clock()
	p, err := d.Validate(today(now))
	if err != nil {
		return Patient{}, err
	}
	generated := p.MRN == ""
	p.ID, p.Version, p.CreatedAt, p.UpdatedAt = uuid.NewString(), 1, now, now
	for attempt := 0; ; attempt++ {
		if generated {
			p.MRN = NewMRN()
		}
		ev := Event{ID: uuid.NewString(), Type: EventCreated, Patient: p, OccurredAt: now}
		err = store(p, ev, a.entry(ActionCreate, now, p.ID))
		if !(generated && errors.Is(err, ErrMRNTaken) && attempt < 3) {
			return p, err
		}
	}
}

// withAccount asks billing for p's account. A billing failure does not fail
// the registration: p is returned without an account and ReconcileBilling
// opens it later.
func (s *Service) withAccount(ctx context.Context, p Patient) Patient {
	if acct, err := s.openAccount(ctx, p); err != nil {
		s.log.WarnContext(ctx, "billing account not opened yet; will retry in background", "patient_id", p.ID, "err", err)
	} else {
		p.BillingAccountID = acct
	}
	return p
}

// hashDraft fingerprints a create request, to tell a retry from a
// different request reusing its key.
func hashDraft(d Draft) []byte {
	b, _ := json.Marshal(d)
	h := sha256.Sum256(b)
	return h[:]
}

func (s *Service) openAccount(ctx context.Context, p Patient) (string, error) {
	acct, err := s.billing.CreateAccount(ctx, p)
	if err != nil {
		return "", err
	}
	// The request may have been cancelled after billing answered; the account
	// id must still be recorded.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.store.SetBillingAccount(sctx, p.ID, acct); err != nil {
		return "", fmt.Errorf("record billing account: %w", err)
	}
	return acct, nil
}

// Get returns the live patient with id (ErrGone once deleted). The read is
// audited; if it cannot be, nothing is disclosed.
func (s *Service) Get(ctx context.Context, a Actor, id string) (Patient, error) {
	p, err := s.get(ctx, id)
	if aerr := s.store.RecordAudit(ctx, a.outcome(a.entry(ActionRead, s.clock(), id), err)); aerr != nil {
		return Patient{}, wrap("patient.get", aerr)
	}
	return p, err
}

func (s *Service) get(ctx context.Context, id string) (Patient, error) {
	if !ValidID(id) {
		return Patient{}, ErrNotFound
	}
	p, err := s.store.Get(ctx, id)
	if err != nil {
		return Patient{}, wrap("patient.get", err)
	}
	if p.Deleted() {
		return Patient{}, ErrGone
	}
	return p, nil
}

// Replace sets every client-writable field of patient id from d (an MRN
// left empty keeps the current one), if the stored version is still
// ifMatch.
func (s *Service) Replace(ctx context.Context, a Actor, id string, ifMatch int64, d Draft) (Patient, error) {
	return s.change(ctx, a, ActionUpdate, id, ifMatch, func(Draft) (Draft, error) { return d, nil })
}

// Update sets the client-writable fields of patient id to what edit makes
// of the current ones (FHIR's update, which carries some fields and not
// others), if the stored version is still ifMatch.
func (s *Service) Update(ctx context.Context, a Actor, id string, ifMatch int64, edit func(Draft) (Draft, error)) (Patient, error) {
	return s.change(ctx, a, ActionUpdate, id, ifMatch, edit)
}

// Patch applies edit to the current client-writable fields of patient id
// (a JSON merge patch, say) and stores the result if it is valid and the
// stored version is still ifMatch.
func (s *Service) Patch(ctx context.Context, a Actor, id string, ifMatch int64, edit func(Draft) (Draft, error)) (Patient, error) {
	return s.change(ctx, a, ActionPatch, id, ifMatch, edit)
}

func (s *Service) change(ctx context.Context, a Actor, action, id string, ifMatch int64, edit func(Draft) (Draft, error)) (Patient, error) {
	now := s.clock()
	p, err := s.updated(ctx, id, ifMatch, now, func(cur Patient) (Patient, error) {
		d, err := edit(DraftOf(cur))
		if err != nil {
			return Patient{}, err
		}
		if d.MRN == "" {
			d.MRN = cur.MRN
		}
		// A client that writes no name parts (the JSON API) keeps the
		// recorded ones while the name stays; a new name gets its own.
		if d.Family == "" && len(d.Given) == 0 && d.Name == cur.Name {
			d.Family, d.Given = cur.Family, cur.Given
		}
		next, err := d.Validate(today(now))
		if err != nil {
			return Patient{}, err
		}
		next.ID, next.BillingAccountID, next.CreatedAt = cur.ID, cur.BillingAccountID, cur.CreatedAt
		return next, nil
	})
	if err == nil {
		ev := Event{ID: uuid.NewString(), Type: EventUpdated, Patient: p, OccurredAt: now}
		err = s.store.Update(ctx, p, ev, a.entry(action, now, id))
	}
	if err != nil {
		s.auditFailure(ctx, a, action, id, err)
		return Patient{}, wrap("patient."+action, err)
	}
	return p, nil
}

// updated loads the live patient, checks ifMatch and returns the next
// version built by build.
func (s *Service) updated(ctx context.Context, id string, ifMatch int64, now time.Time, build func(Patient) (Patient, error)) (Patient, error) {
	cur, err := s.get(ctx, id)
	if err != nil {
		return Patient{}, err
	}
	if ifMatch != AnyVersion && cur.Version != ifMatch {
		return Patient{}, ErrVersionMismatch
	}
	next, err := build(cur)
	if err != nil {
		return Patient{}, err
	}
	next.Version, next.UpdatedAt = cur.Version+1, now
	return next, nil
}

// Delete soft-deletes patient id if the stored version is still ifMatch.
// With AnyVersion it deletes the current version, trying again when a
// change lands in between. Only admins may delete.
func (s *Service) Delete(ctx context.Context, a Actor, id string, ifMatch int64) error {
	err := ErrForbidden
	for attempt := 0; a.Role == RoleAdmin && attempt < 3; attempt++ {
		now := s.clock()
		var p Patient
		p, err = s.updated(ctx, id, ifMatch, now, func(cur Patient) (Patient, error) {
			cur.DeletedAt = now
			return cur, nil
		})
		if err == nil {
			ev := Event{ID: uuid.NewString(), Type: EventDeleted, Patient: p, OccurredAt: now}
			err = s.store.Delete(ctx, p, ev, a.entry(ActionDelete, now, id))
		}
		if ifMatch != AnyVersion || !errors.Is(err, ErrVersionMismatch) {
			break
		}
	}
	if err != nil {
		s.auditFailure(ctx, a, ActionDelete, id, err)
		return wrap("patient.delete", err)
	}
	return nil
}

// auditFailure records a refused or failed operation. Its own failure is
// logged: the operation already failed and reports that.
func (s *Service) auditFailure(ctx context.Context, a Actor, action, id string, cause error) {
	e := a.outcome(a.entry(action, s.clock(), id), cause)
	if err := s.store.RecordAudit(ctx, e); err != nil {
		s.log.ErrorContext(ctx, "audit entry not recorded", "action", action, "patient_id", id, "err", err)
	}
}

// clock is the current time at the database's precision (microseconds),
// so what a write returns equals what a later read returns.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

func today(now time.Time) time.Time { return now.Truncate(24 * time.Hour) }

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", op, err)
}

// MaxIdempotencyKey bounds a client's Idempotency-Key.
const MaxIdempotencyKey = 255

// ValidIdempotencyKey reports whether key may be an Idempotency-Key: up to
// MaxIdempotencyKey visible ASCII characters (empty: no key).
func ValidIdempotencyKey(key string) bool {
	return len(key) <= MaxIdempotencyKey && !strings.ContainsFunc(key, func(c rune) bool { return c < 0x21 || c > 0x7e })
}
