// Package outbox relays events committed to the outbox table to the Dapr
// pub/sub component, so an event is published if and only if its change
// committed (at least once; consumers deduplicate on event id).
package outbox

import (
	"context"
	"log/slog"
	"time"
)

// Message is one event waiting in the outbox.
type Message struct {
	EventID string
	Topic   string
	Key     string // partition key: events with the same key keep their order
	Payload string // protojson
}

// Store hands out unsent messages and records which were published.
type Store interface {
	PublishPending(ctx context.Context, limit int, publish func(context.Context, Message) error) (int, error)
}

// Publisher sends one message to the broker.
type Publisher interface {
	Publish(ctx context.Context, m Message) error
}

// Relay moves messages from Store to Publisher.
type Relay struct {
	Store     Store
	Publisher Publisher
	Log       *slog.Logger
	Interval  time.Duration // poll interval while the outbox drains normally
	MaxWait   time.Duration // longest back-off while publishing fails
}

// Run relays until ctx ends.
func (r *Relay) Run(ctx context.Context) error {
	wait := r.Interval
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		var failed error
		n, err := r.Store.PublishPending(ctx, 100, func(ctx context.Context, m Message) error {
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			failed = r.Publisher.Publish(pctx, m)
			return failed
		})
		if err == nil {
			err = failed
		}
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			wait = min(max(wait*2, r.Interval), r.MaxWait)
			r.Log.WarnContext(ctx, "outbox relay: publish failed", "err", err, "published", n, "retry_in", wait.String())
		case n == 100:
			wait = 0 // more are waiting
		default:
			wait = r.Interval
		}
	}
}
