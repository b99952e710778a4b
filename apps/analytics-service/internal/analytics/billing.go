package analytics

import (
	"context"
	"fmt"
	"time"
)

// ErrMalformedBilling marks a billing event that can never be recorded.
var ErrMalformedBilling = fmt.Errorf("%w (billing)", ErrMalformed)

// BillingEvent is the part of a billing event analytics keeps: the
// account, the posting's kind and amount, and the balance after it.
type BillingEvent struct {
	ID             string
	Type           string // ENTRY_POSTED, ACCOUNT_STATUS_CHANGED
	AccountID      string
	OccurredAt     time.Time
	AccountVersion int64
	Kind           string // ENTRY_POSTED: CHARGE, PAYMENT, ADJUSTMENT, REVERSAL
	AmountMinor    int64  // ENTRY_POSTED: the effect on the balance
	Currency       string
	BalanceMinor   int64 // the account's balance after the change
}

// BillingDay is one UTC day's charges and payments in one currency.
type BillingDay struct {
	Date         string // YYYY-MM-DD
	Currency     string
	Charges      int64 // how many
	ChargedMinor int64 // their total
	Payments     int64
	PaidMinor    int64 // the total received (positive)
}

// Outstanding is what accounts in one currency owe altogether: the sum of
// each account's latest balance.
type Outstanding struct {
	Currency string
	Minor    int64
	Accounts int64
}

// BillingSummary is what billing events add up to.
type BillingSummary struct {
	PerDay      []BillingDay  // oldest day first
	Outstanding []Outstanding // by currency
}

var billingTypes = map[string]bool{"ENTRY_POSTED": true, "ACCOUNT_STATUS_CHANGED": true}
var entryKinds = map[string]bool{"CHARGE": true, "PAYMENT": true, "ADJUSTMENT": true, "REVERSAL": true}

// RecordAllBilling is RecordAll for billing events.
func (s *Service) RecordAllBilling(ctx context.Context, evs []BillingEvent) []Result {
	return recordAll(ctx, "analytics.record_billing", evs, validateBilling, s.store.RecordAllBilling, s.store.RecordBilling)
}

func validateBilling(ev BillingEvent) error {
	switch {
	case !validUUID(ev.ID):
		return fmt.Errorf("%w: event id %q is not a UUID", ErrMalformedBilling, ev.ID)
	case !billingTypes[ev.Type]:
		return fmt.Errorf("%w: unknown type %q", ErrMalformedBilling, ev.Type)
	case !validUUID(ev.AccountID):
		return fmt.Errorf("%w: account id %q is not a UUID", ErrMalformedBilling, ev.AccountID)
	case ev.OccurredAt.IsZero():
		return fmt.Errorf("%w: no occurredAt", ErrMalformedBilling)
	case ev.AccountVersion < 1:
		return fmt.Errorf("%w: no account version", ErrMalformedBilling)
	case len(ev.Currency) != 3:
		return fmt.Errorf("%w: currency %q", ErrMalformedBilling, ev.Currency)
	case ev.Type == "ENTRY_POSTED" && (!entryKinds[ev.Kind] || ev.AmountMinor == 0):
		return fmt.Errorf("%w: a posting without a kind or amount", ErrMalformedBilling)
	}
	return nil
}
