package patientdb

import (
	"context"
	"log/slog"

	"github.com/pms-dapr/pms/platform/outbox"
)

// PublishPending publishes up to limit unsent events (outbox.PG).
func (s *Store) PublishPending(ctx context.Context, limit int, publish func(context.Context, outbox.Message) error) (int, error) {
	return s.outbox().PublishPending(ctx, limit, publish)
}

// WatchOutbox wakes the relay whenever an event commits (outbox.PG.Watch).
func (s *Store) WatchOutbox(ctx context.Context, log *slog.Logger, wake chan<- struct{}) error {
	return s.outbox().Watch(ctx, log, wake)
}

func (s *Store) outbox() outbox.PG { return outbox.PG{Pool: s.pool, Name: "patientdb"} }
