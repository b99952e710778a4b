package billing

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/pms-dapr/pms/platform/validation"
)

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

func validMethod(m Method) bool {
	for _, x := range Methods {
		if m == x {
			return true
		}
	}
	return false
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
