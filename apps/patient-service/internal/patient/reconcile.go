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

func (s *Service) reconcileOnce(ctx context.Context) error {
	pending, err := s.store.MissingBillingAccount(ctx, 50)
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range pending {
		acct, err := s.openAccount(ctx, p)
		if err != nil {
			errs = append(errs, fmt.Errorf("patient %s: %w", p.ID, err))
			continue
		}
		s.log.InfoContext(ctx, "billing account opened by reconciliation", "patient_id", p.ID, "billing_account_id", acct)
	}
	return errors.Join(errs...)
}
