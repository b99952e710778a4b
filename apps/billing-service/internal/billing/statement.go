package billing

import (
	"context"
	"fmt"
	"time"

	"github.com/pms-dapr/pms/platform/validation"
)

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
