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
		case <-s.reconcile:
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

// WakeReconciler has ReconcileBilling start a round now rather than at its
// next interval (patients without accounts were just stored: an import's).
func (s *Service) WakeReconciler() {
	select {
	case s.reconcile <- struct{}{}:
	default:
	}
}

// reconcileBatch is how many patients one query hands the reconciler (and
// one call to billing opens); reconcileGiveUp how many failures in a row
// end a round (billing is down: back off rather than time out on every
// patient).
const reconcileBatch, reconcileGiveUp = MaxAccountsAtOnce, 3

// reconcileOnce works through every patient without an account, a batch at
// a time, until none is left or billing keeps failing. A batch is opened
// with one call; when that fails, patient by patient, so a patient
// billing refuses does not hold up the others behind it.
func (s *Service) reconcileOnce(ctx context.Context) error {
	for {
		pending, err := s.store.MissingBillingAccount(ctx, reconcileBatch)
		if err != nil {
			return err
		}
		if len(pending) == 0 {
			return nil
		}
		err = s.openAccounts(ctx, pending)
		if err == nil && len(pending) < reconcileBatch {
			return nil
		}
		if err == nil {
			continue
		}
		s.log.WarnContext(ctx, "billing accounts not opened together; opening them one by one", "patients", len(pending), "err", err)
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

// openAccounts opens the accounts of ps with one call to billing and
// records them.
func (s *Service) openAccounts(ctx context.Context, ps []Patient) error {
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	accts, err := s.billing.CreateAccounts(ctx, ids)
	if err != nil {
		return err
	}
	if len(accts) != len(ids) {
		return fmt.Errorf("billing answered %d accounts for %d patients", len(accts), len(ids))
	}
	byPatient := make(map[string]string, len(ids))
	for i, id := range ids {
		byPatient[id] = accts[i]
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := s.store.SetBillingAccounts(sctx, byPatient); err != nil {
		return fmt.Errorf("record billing accounts: %w", err)
	}
	s.log.InfoContext(ctx, "billing accounts opened by reconciliation", "patients", len(ids))
	return nil
}
