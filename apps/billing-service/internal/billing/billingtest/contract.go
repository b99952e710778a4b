package billingtest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/apps/billing-service/internal/billing"
	"github.com/pms-dapr/pms/platform/validation"
)

// Actors for the contract.
var (
	Clerk     = billing.Actor{UserID: "u-billing", Role: billing.RoleBilling, RequestID: "req-1"}
	Clinician = billing.Actor{UserID: "u-clinician", Role: billing.RoleClinician, RequestID: "req-2"}
	Admin     = billing.Actor{UserID: "u-admin", Role: billing.RoleAdmin, RequestID: "req-3"}
)

// Clock is a settable clock for the contract's statements.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the clock's time, one microsecond later on each call.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Microsecond)
	return c.now
}

// Set moves the clock.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Charge is a valid charge of quantity × unit.
func Charge(quantity, unit int64) billing.Charge {
	return billing.Charge{ServiceDate: "2026-10-01", Code: "99213", Description: "Office visit", Quantity: quantity, UnitPrice: unit}
}

// StoreContract runs the behaviour every billing.Store must have, through the
// domain service, against the store newStore returns (empty each time).
func StoreContract(t *testing.T, newStore func(t *testing.T) billing.Store) {
	setup := func(t *testing.T) (*billing.Service, *Clock, billing.Account) {
		t.Helper()
		clock := &Clock{now: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
		svc, err := billing.NewService(newStore(t), "USD")
		require.NoError(t, err)
		svc.WithClock(clock.Now)
		acc, created, err := svc.Open(context.Background(), uuid.NewString())
		require.NoError(t, err)
		require.True(t, created)
		return svc, clock, acc
	}
	ctx := context.Background()

	t.Run("opening many opens each patient's account once, in the order asked", func(t *testing.T) {
		svc, _, acc := setup(t)
		first, second := uuid.NewString(), uuid.NewString()
		got, created, err := svc.OpenMany(ctx, []string{first, acc.PatientID, second})
		require.NoError(t, err)
		require.Len(t, got, 3)
		assert.Equal(t, []bool{true, false, true}, created)
		assert.Equal(t, []string{first, acc.PatientID, second}, []string{got[0].PatientID, got[1].PatientID, got[2].PatientID})
		assert.Equal(t, acc.ID, got[1].ID)
		for _, a := range []billing.Account{got[0], got[2]} {
			stored, err := svc.GetByPatient(ctx, a.PatientID)
			require.NoError(t, err)
			assert.Equal(t, a.ID, stored.ID)
			assert.Equal(t, billing.StatusActive, stored.Status)
			assert.Equal(t, "USD", stored.Currency)
		}
		again, created, err := svc.OpenMany(ctx, []string{second, first})
		require.NoError(t, err)
		assert.Equal(t, []bool{false, false}, created)
		assert.Equal(t, []string{got[2].ID, got[0].ID}, []string{again[0].ID, again[1].ID})

		_, _, err = svc.OpenMany(ctx, []string{first, first})
		assert.ErrorContains(t, err, "patient_ids[1]")
		_, _, err = svc.OpenMany(ctx, []string{"42"})
		assert.ErrorContains(t, err, "patient_ids[0]")
		_, _, err = svc.OpenMany(ctx, nil)
		assert.ErrorContains(t, err, "patient_ids")
	})

	t.Run("opening is idempotent on the patient", func(t *testing.T) {
		svc, _, acc := setup(t)
		again, created, err := svc.Open(ctx, acc.PatientID)
		require.NoError(t, err)
		assert.False(t, created)
		assert.Equal(t, acc.ID, again.ID)
		assert.Equal(t, billing.StatusActive, again.Status)
		assert.Equal(t, "USD", again.Currency)
		got, err := svc.GetByPatient(ctx, acc.PatientID)
		require.NoError(t, err)
		assert.Equal(t, acc.ID, got.ID)
		_, err = svc.GetByPatient(ctx, uuid.NewString())
		assert.ErrorIs(t, err, billing.ErrNotFound)
	})

	t.Run("postings keep an exact running balance", func(t *testing.T) {
		svc, _, acc := setup(t)
		e1, a1, replayed, err := svc.PostCharge(ctx, Clinician, acc.ID, "k1", Charge(3, 12_345))
		require.NoError(t, err)
		assert.False(t, replayed)
		assert.Equal(t, int64(37_035), e1.Amount)
		assert.Equal(t, int64(1), e1.Sequence)
		assert.Equal(t, int64(37_035), a1.Balance)
		assert.Equal(t, "u-clinician", e1.PostedBy)
		e2, _, _, err := svc.PostPayment(ctx, Clerk, acc.ID, "k2", billing.Payment{Amount: 20_000, Method: billing.MethodCard, Reference: "AUTH-1"})
		require.NoError(t, err)
		assert.Equal(t, int64(-20_000), e2.Amount)
		e3, _, _, err := svc.PostAdjustment(ctx, Clerk, acc.ID, "k3", billing.Adjustment{Type: billing.AdjustWriteOff, Amount: 35, Reason: "small balance"})
		require.NoError(t, err)
		assert.Equal(t, int64(-35), e3.Amount)
		e4, a4, _, err := svc.PostAdjustment(ctx, Clerk, acc.ID, "k4", billing.Adjustment{Type: billing.AdjustCorrection, Amount: -1_000, Reason: "price list"})
		require.NoError(t, err)
		assert.Equal(t, int64(4), e4.Sequence)
		assert.Equal(t, int64(16_000), e4.BalanceAfter)
		assert.Equal(t, int64(16_000), a4.Balance)
		assert.Equal(t, int64(5), a4.Version, "opened at 1, one more per posting")
		page, next, err := svc.Entries(ctx, Clerk, acc.ID, 3, "")
		require.NoError(t, err)
		require.Len(t, page, 3)
		assert.Equal(t, []int64{4, 3, 2}, []int64{page[0].Sequence, page[1].Sequence, page[2].Sequence})
		rest, next2, err := svc.Entries(ctx, Clerk, acc.ID, 3, next)
		require.NoError(t, err)
		assert.Empty(t, next2)
		require.Len(t, rest, 1)
		assert.Equal(t, e1.ID, rest[0].ID)
		assert.Equal(t, "99213", rest[0].Code)
		assert.Equal(t, int64(12_345), rest[0].UnitPrice)
	})

	t.Run("a retried posting is one entry; a reused key with another request is refused", func(t *testing.T) {
		svc, _, acc := setup(t)
		first, _, _, err := svc.PostPayment(ctx, Clerk, acc.ID, "pay-1", billing.Payment{Amount: 500, Method: billing.MethodCash})
		require.NoError(t, err)
		again, a, replayed, err := svc.PostPayment(ctx, Clerk, acc.ID, "pay-1", billing.Payment{Amount: 500, Method: billing.MethodCash})
		require.NoError(t, err)
		assert.True(t, replayed)
		assert.Equal(t, first.ID, again.ID)
		assert.Equal(t, int64(-500), a.Balance)
		_, _, _, err = svc.PostPayment(ctx, Clerk, acc.ID, "pay-1", billing.Payment{Amount: 501, Method: billing.MethodCash})
		assert.ErrorIs(t, err, billing.ErrIdempotencyMismatch)
		got, err := svc.Get(ctx, Clerk, acc.ID)
		require.NoError(t, err)
		assert.Equal(t, int64(1), got.EntryCount)
	})

	t.Run("held and closed accounts take no charges, but take payments", func(t *testing.T) {
		svc, _, acc := setup(t)
		_, err := svc.ChangeStatus(ctx, Clerk, acc.ID, billing.Hold, acc.Version+1)
		assert.ErrorIs(t, err, billing.ErrVersionMismatch)
		held, err := svc.ChangeStatus(ctx, Clerk, acc.ID, billing.Hold, acc.Version)
		require.NoError(t, err)
		assert.Equal(t, billing.StatusOnHold, held.Status)
		_, err = svc.ChangeStatus(ctx, Clerk, acc.ID, billing.Hold, held.Version)
		assert.ErrorIs(t, err, billing.ErrNoChange)
		_, _, _, err = svc.PostCharge(ctx, Clerk, acc.ID, "c1", Charge(1, 100))
		var serr *billing.StatusError
		require.ErrorAs(t, err, &serr)
		assert.Equal(t, billing.StatusOnHold, serr.Status)
		_, _, _, err = svc.PostPayment(ctx, Clerk, acc.ID, "p1", billing.Payment{Amount: 100, Method: billing.MethodCheck})
		require.NoError(t, err)
		released, err := svc.ChangeStatus(ctx, Clerk, acc.ID, billing.Release, held.Version+1)
		require.NoError(t, err)
		assert.Equal(t, billing.StatusActive, released.Status)
		_, _, _, err = svc.PostCharge(ctx, Clerk, acc.ID, "c1", Charge(1, 100))
		require.NoError(t, err, "the refused attempt left its key unused")
		closed, err := svc.ChangeStatus(ctx, Clerk, acc.ID, billing.Close, released.Version+1)
		require.NoError(t, err)
		assert.Equal(t, billing.StatusClosed, closed.Status)
		_, _, _, err = svc.PostCharge(ctx, Clerk, acc.ID, "c2", Charge(1, 100))
		require.ErrorAs(t, err, &serr)
		assert.Equal(t, billing.StatusClosed, serr.Status)
		_, _, _, err = svc.PostAdjustment(ctx, Clerk, acc.ID, "a1", billing.Adjustment{Type: billing.AdjustRefund, Amount: 100, Reason: "overpaid"})
		require.NoError(t, err)
		_, err = svc.ChangeStatus(ctx, Admin, acc.ID, billing.Release, closed.Version+1)
		require.ErrorAs(t, err, &serr, "closed is final")
		got, err := svc.Get(ctx, Clerk, acc.ID)
		require.NoError(t, err)
		assert.Equal(t, int64(100), got.Balance)
	})

	t.Run("a reversal undoes one entry once", func(t *testing.T) {
		svc, _, acc := setup(t)
		charge, _, _, err := svc.PostCharge(ctx, Clerk, acc.ID, "c", Charge(2, 7_500))
		require.NoError(t, err)
		rev, a, _, err := svc.ReverseEntry(ctx, Clerk, acc.ID, "r", billing.Reversal{EntryID: charge.ID, Reason: "wrong patient"})
		require.NoError(t, err)
		assert.Equal(t, billing.KindReversal, rev.Kind)
		assert.Equal(t, int64(-15_000), rev.Amount)
		assert.Equal(t, charge.ID, rev.Reverses)
		assert.Zero(t, a.Balance)
		_, _, _, err = svc.ReverseEntry(ctx, Clerk, acc.ID, "r2", billing.Reversal{EntryID: charge.ID, Reason: "again"})
		assert.ErrorIs(t, err, billing.ErrAlreadyReversed)
		_, _, _, err = svc.ReverseEntry(ctx, Clerk, acc.ID, "r3", billing.Reversal{EntryID: rev.ID, Reason: "undo"})
		assert.ErrorIs(t, err, billing.ErrReverseReversal)
		_, _, _, err = svc.ReverseEntry(ctx, Clerk, acc.ID, "r4", billing.Reversal{EntryID: uuid.NewString(), Reason: "x"})
		assert.ErrorIs(t, err, billing.ErrEntryNotFound)
		entries, _, err := svc.Entries(ctx, Clerk, acc.ID, 10, "")
		require.NoError(t, err)
		require.Len(t, entries, 2)
		assert.Equal(t, rev.ID, entries[1].ReversedBy, "the charge names its reversal")
		one, err := svc.Entry(ctx, Clerk, acc.ID, charge.ID)
		require.NoError(t, err)
		assert.Equal(t, rev.ID, one.ReversedBy)
		assert.Equal(t, int64(15_000), one.Amount)
		_, err = svc.Entry(ctx, Clerk, acc.ID, rev.Reverses+"x")
		assertFields(t, err, "entry_id")
		_, err = svc.Entry(ctx, Clerk, acc.ID, acc.ID)
		assert.ErrorIs(t, err, billing.ErrEntryNotFound)
	})

	t.Run("concurrent postings to one account are each recorded once", func(t *testing.T) {
		svc, _, acc := setup(t)
		const n = 50
		var wg sync.WaitGroup
		errs := make(chan error, 2*n)
		for i := range n {
			wg.Go(func() {
				key := fmt.Sprintf("k-%d", i)
				var err error
				if i%2 == 0 {
					_, _, _, err = svc.PostCharge(ctx, Clerk, acc.ID, key, Charge(1, int64(1_000+i)))
				} else {
					_, _, _, err = svc.PostPayment(ctx, Clerk, acc.ID, key, billing.Payment{Amount: int64(100 + i), Method: billing.MethodCard})
				}
				errs <- err
				if i%5 == 0 { // a retry racing the first attempt
					_, _, replayed, err := svc.PostPayment(ctx, Clerk, acc.ID, "retry-"+key, billing.Payment{Amount: 1, Method: billing.MethodCash})
					_, _, replayed2, err2 := svc.PostPayment(ctx, Clerk, acc.ID, "retry-"+key, billing.Payment{Amount: 1, Method: billing.MethodCash})
					if err == nil && err2 == nil && replayed == replayed2 {
						err = errors.New("exactly one of two identical postings must be the replay")
					}
					errs <- errors.Join(err, err2)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		var want int64
		for i := range n {
			if i%2 == 0 {
				want += int64(1_000 + i)
			} else {
				want -= int64(100 + i)
			}
			if i%5 == 0 {
				want--
			}
		}
		got, err := svc.Get(ctx, Clerk, acc.ID)
		require.NoError(t, err)
		assert.Equal(t, want, got.Balance)
		assert.Equal(t, int64(n+n/5), got.EntryCount)
		var all []billing.Entry
		cursor := ""
		for {
			page, next, err := svc.Entries(ctx, Clerk, acc.ID, 100, cursor)
			require.NoError(t, err)
			all = append(all, page...)
			if next == "" {
				break
			}
			cursor = next
		}
		require.Len(t, all, n+n/5)
		var running int64
		for i := len(all) - 1; i >= 0; i-- {
			e := all[i]
			running += e.Amount
			assert.Equal(t, int64(len(all)-i), e.Sequence, "sequences are 1..n without gaps")
			assert.Equal(t, running, e.BalanceAfter, "each entry's running balance")
		}
	})

	t.Run("a statement has the balances around its period", func(t *testing.T) {
		svc, clock, acc := setup(t)
		clock.Set(time.Date(2026, 10, 31, 23, 59, 0, 0, time.UTC))
		_, _, _, err := svc.PostCharge(ctx, Clerk, acc.ID, "oct", Charge(1, 10_000))
		require.NoError(t, err)
		clock.Set(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
		_, _, _, err = svc.PostCharge(ctx, Clerk, acc.ID, "nov-1", Charge(2, 2_500))
		require.NoError(t, err)
		clock.Set(time.Date(2026, 11, 15, 12, 0, 0, 0, time.UTC))
		_, _, _, err = svc.PostPayment(ctx, Clerk, acc.ID, "nov-15", billing.Payment{Amount: 12_000, Method: billing.MethodCash})
		require.NoError(t, err)
		_, _, _, err = svc.PostAdjustment(ctx, Clerk, acc.ID, "nov-15b", billing.Adjustment{Type: billing.AdjustWriteOff, Amount: 500, Reason: "goodwill"})
		require.NoError(t, err)
		clock.Set(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
		_, _, _, err = svc.PostCharge(ctx, Clerk, acc.ID, "dec", Charge(1, 999))
		require.NoError(t, err)
		st, err := svc.Statement(ctx, Clerk, acc.ID, "2026-11-01", "2026-11-30")
		require.NoError(t, err)
		assert.Equal(t, int64(10_000), st.Opening)
		require.Len(t, st.Entries, 3)
		assert.Equal(t, int64(5_000), st.Charges)
		assert.Equal(t, int64(-12_000), st.Payments)
		assert.Equal(t, int64(-500), st.Adjustments)
		assert.Equal(t, int64(2_500), st.Closing)
		assert.Equal(t, st.Closing, st.Entries[2].BalanceAfter)
		_, err = svc.Statement(ctx, Clerk, acc.ID, "2026-11-30", "2026-11-01")
		assertFields(t, err, "to")
	})

	t.Run("a patient's deletion closes the account once", func(t *testing.T) {
		svc, _, acc := setup(t)
		event := uuid.NewString()
		closed, duplicate, err := svc.PatientDeleted(ctx, event, acc.PatientID)
		require.NoError(t, err)
		assert.True(t, closed)
		assert.False(t, duplicate)
		closed, duplicate, err = svc.PatientDeleted(ctx, event, acc.PatientID)
		require.NoError(t, err)
		assert.False(t, closed, "a redelivered event changes nothing")
		assert.True(t, duplicate)
		closed, duplicate, err = svc.PatientDeleted(ctx, uuid.NewString(), acc.PatientID)
		require.NoError(t, err)
		assert.False(t, closed, "an account closes once")
		assert.False(t, duplicate)
		got, err := svc.Get(ctx, Admin, acc.ID)
		require.NoError(t, err)
		assert.Equal(t, billing.StatusClosed, got.Status)
		assert.Equal(t, int64(2), got.Version)
		late := uuid.NewString()
		closed, _, err = svc.PatientDeleted(ctx, uuid.NewString(), late)
		require.NoError(t, err)
		assert.False(t, closed, "a patient without an account")
		opened, created, err := svc.Open(ctx, late)
		require.NoError(t, err)
		assert.True(t, created)
		assert.Equal(t, billing.StatusClosed, opened.Status, "an account opened after its patient's deletion opens closed")
	})

	t.Run("accounts are listed newest first, by patient and status", func(t *testing.T) {
		svc, clock, first := setup(t)
		var ids []string
		for range 4 {
			clock.Set(clock.Now().Add(time.Minute))
			a, _, err := svc.Open(ctx, uuid.NewString())
			require.NoError(t, err)
			ids = append([]string{a.ID}, ids...)
		}
		ids = append(ids, first.ID)
		_, err := svc.ChangeStatus(ctx, Clerk, ids[1], billing.Hold, 1)
		require.NoError(t, err)
		page, next, err := svc.List(ctx, Clinician, "", "", 3, "")
		require.NoError(t, err)
		require.Len(t, page, 3)
		require.NotEmpty(t, next)
		rest, last, err := svc.List(ctx, Clinician, "", "", 3, next)
		require.NoError(t, err)
		assert.Empty(t, last)
		var got []string
		for _, a := range append(page, rest...) {
			got = append(got, a.ID)
		}
		assert.Equal(t, ids, got)
		held, _, err := svc.List(ctx, Clerk, "", "ON_HOLD", 0, "")
		require.NoError(t, err)
		require.Len(t, held, 1)
		assert.Equal(t, ids[1], held[0].ID)
		mine, _, err := svc.List(ctx, Clerk, first.PatientID, "", 0, "")
		require.NoError(t, err)
		require.Len(t, mine, 1)
		assert.Equal(t, first.ID, mine[0].ID)
		_, _, err = svc.List(ctx, Clerk, "nope", "OPEN", 500, "!!")
		assertFields(t, err, "patient_id", "status", "limit", "cursor")
		trail, _, err := svc.Audit(ctx, Admin, ids[1], 0, "")
		require.NoError(t, err)
		var lists int
		for _, e := range trail {
			if e.Action == billing.ActionAccountList {
				lists++
			}
		}
		assert.Equal(t, 2, lists, "a list is in the trail of every account it showed (the first page and the held ones)")
	})

	t.Run("roles are enforced and every access is audited", func(t *testing.T) {
		svc, _, acc := setup(t)
		_, _, _, err := svc.PostPayment(ctx, Clinician, acc.ID, "p", billing.Payment{Amount: 1, Method: billing.MethodCash})
		assert.ErrorIs(t, err, billing.ErrForbidden)
		_, _, err = svc.Entries(ctx, Clinician, acc.ID, 0, "")
		assert.ErrorIs(t, err, billing.ErrForbidden)
		_, _, err = svc.Audit(ctx, Clerk, acc.ID, 0, "")
		assert.ErrorIs(t, err, billing.ErrForbidden)
		_, err = svc.Get(ctx, Clinician, acc.ID)
		require.NoError(t, err)
		charge, _, _, err := svc.PostCharge(ctx, Clinician, acc.ID, "c", Charge(1, 100))
		require.NoError(t, err)
		_, _, _, err = svc.PostCharge(ctx, Clinician, acc.ID, "c", Charge(1, 100))
		require.NoError(t, err)
		trail, _, err := svc.Audit(ctx, Admin, acc.ID, 0, "")
		require.NoError(t, err)
		var got []string
		for _, e := range trail {
			got = append(got, e.Action+":"+e.Role+":"+e.Outcome)
		}
		assert.Equal(t, []string{
			"posting.replay:clinician:success", "charge:clinician:success", "account.read:clinician:success",
			"audit.read:billing:forbidden", "entries.read:clinician:forbidden", "payment:clinician:forbidden",
			"account.open:service:success",
		}, got)
		assert.Equal(t, charge.ID, trail[1].EntryID)
		assert.Equal(t, "req-2", trail[1].RequestID)
	})

	t.Run("bad postings name their fields", func(t *testing.T) {
		svc, _, acc := setup(t)
		_, _, _, err := svc.PostCharge(ctx, Clerk, acc.ID, "", billing.Charge{ServiceDate: "2999-01-01", Code: "a b", Quantity: 0, UnitPrice: -1})
		assertFields(t, err, "service_date", "code", "description", "quantity", "unit_price_minor", "Idempotency-Key")
		_, _, _, err = svc.PostCharge(ctx, Clerk, acc.ID, "k", Charge(billing.MaxQuantity, billing.MaxUnitPrice))
		assertFields(t, err, "quantity")
		_, _, _, err = svc.PostPayment(ctx, Clerk, acc.ID, "k", billing.Payment{Amount: 0, Method: "BITCOIN"})
		assertFields(t, err, "amount_minor", "method")
		_, _, _, err = svc.PostAdjustment(ctx, Clerk, acc.ID, "k", billing.Adjustment{Type: billing.AdjustCorrection})
		assertFields(t, err, "amount_minor", "reason")
		_, _, _, err = svc.PostPayment(ctx, Clerk, uuid.NewString(), "k", billing.Payment{Amount: 1, Method: billing.MethodCash})
		assert.ErrorIs(t, err, billing.ErrNotFound)
		got, err := svc.Get(ctx, Clerk, acc.ID)
		require.NoError(t, err)
		assert.Zero(t, got.EntryCount, "nothing was posted")
	})
}

func assertFields(t *testing.T, err error, fields ...string) {
	t.Helper()
	var verr *validation.Error
	require.ErrorAs(t, err, &verr)
	var got []string
	for _, f := range verr.Fields {
		got = append(got, f.Field)
	}
	assert.Equal(t, fields, got)
}
