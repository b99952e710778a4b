package patient

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ReconcileBilling opens the billing accounts that Create could not, until
// ctx ends: every interval it retries each patient still without an account,
// backing off (up to maxBackoff) while billing keeps failing.
func (s *Service) ReconcileBilling(ctx context.Context, interval, maxBackoff time.Duration) error {
	wait := interval
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		if err := s.reconcileOnce(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			wait = min(wait*2, maxBackoff)
			s.log.WarnContext(ctx, "billing reconciliation failed", "err", err, "retry_in", wait.String())
			continue
		}
		wait = interval
	}
}

// reconcileBatch is how many patients one query hands the reconciler;
// reconcileGiveUp how many failures in a row end a round (billing is down:
// back off rather than time out on every patient).
const reconcileBatch, reconcileGiveUp = 100, 3

// reconcileOnce works through every patient without an account, a batch at
// a time, until none is left or billing keeps failing. A patient billing
// refuses does not hold up the others behind it.
func (s *Service) reconcileOnce(ctx context.Context) error {
	for {
		pending, err := s.store.MissingBillingAccount(ctx, reconcileBatch)
		if err != nil {
			return err
		}
		var errs []error
		inARow := 0
		for _, p := range pending {
			acct, err := s.openAccount(ctx, p)
			if err != nil {
				errs = append(errs, fmt.Errorf("patient %s: %w", p.ID, err))
				if inARow++; inARow == reconcileGiveUp {
					break
				}
				continue
			}
			inARow = 0
			s.log.InfoContext(ctx, "billing account opened by reconciliation", "patient_id", p.ID, "billing_account_id", acct)
		}
		if len(errs) > 0 || len(pending) < reconcileBatch {
			return errors.Join(errs...)
		}
	}
}
