package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/pms-dapr/pms/apps/patient-service/internal/patientdb"
)

// backfill gives rows from before the current search keys their keys.
func backfill(ctx context.Context, store *patientdb.Store, log *slog.Logger) error {
	if n, err := store.BackfillSearchKeys(ctx); err != nil {
		log.Warn("search keys not filled in; name searches miss older records until the next start", "err", err)
	} else if n > 0 {
		log.Info("search keys filled in", "patients", n)
	}
	return nil
}

// housekeep prunes expired idempotency keys and old published events every
// interval until ctx ends. A failure is logged and retried next time.
func housekeep(ctx context.Context, store *patientdb.Store, log *slog.Logger, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		r, err := store.Housekeep(ctx, time.Now())
		if err != nil && ctx.Err() == nil {
			log.Warn("housekeeping failed", "err", err)
		} else if r.Keys+r.Events+r.Imports > 0 {
			log.Info("housekeeping", "idempotency_keys_removed", r.Keys, "sent_events_removed", r.Events, "imports_removed", r.Imports)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
