// Package outbox relays events committed to a service's outbox table to the Dapr
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
	// Type is the CloudEvent type when it is not the publisher's
	// EventType (a redriven dead letter keeps its own; a batch of events
	// has a type of its own).
	Type string
	// TraceParent is the W3C traceparent of the change that wrote the
	// event (empty: untraced); the CloudEvent carries it, so its
	// consumers' spans join that trace.
	TraceParent string
}

// Store hands out unsent messages and records which were published:
// publish gets them oldest first and returns each one's result.
type Store interface {
	PublishPending(ctx context.Context, limit int, publish func(context.Context, []Message) []error) (int, error)
}

// Publisher sends one message to the broker.
type Publisher interface {
	Publish(ctx context.Context, m Message) error
}

// BatchPublisher sends many messages of one topic in one request (Dapr's
// bulk publish) and returns each one's result. The relay prefers it.
type BatchPublisher interface {
	PublishBatch(ctx context.Context, topic string, msgs []Message) []error
}

// publishTimeout bounds one publish request.
const publishTimeout = 10 * time.Second

// Relay moves messages from Store to Publisher.
type Relay struct {
	Store     Store
	Publisher Publisher
	Log       *slog.Logger
	// Wake signals that new messages committed; the relay then publishes at
	// once. Without it (or if a signal is lost) the relay polls every Interval.
	Wake     <-chan struct{}
	Interval time.Duration // poll interval when no signal comes
	MaxWait  time.Duration // longest back-off while publishing fails
	Batch    int           // messages per round; default 100
}

// Run relays until ctx ends. While publishing fails it backs off (up to
// MaxWait), ignoring wake signals, so a broker outage is not hammered.
func (r *Relay) Run(ctx context.Context) error {
	batch := r.Batch
	if batch <= 0 {
		batch = 100
	}
	wait, failing := r.Interval, false
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		timer.Reset(wait)
		wake := r.Wake
		if failing {
			wake = nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-wake:
		}
		n, err := r.Store.PublishPending(ctx, batch, r.publish)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			failing = true
			wait = min(max(wait*2, r.Interval), r.MaxWait)
			r.Log.WarnContext(ctx, "outbox relay: publish failed", "err", err, "published", n, "retry_in", wait.String())
		case n == batch:
			failing, wait = false, 0 // more are waiting
		default:
			failing, wait = false, r.Interval
		}
	}
}

// publish sends msgs in bulk waves (PublishInWaves) when the publisher can,
// otherwise one by one (PublishInOrder); either keeps each key's order.
func (r *Relay) publish(ctx context.Context, msgs []Message) []error {
	if bp, ok := r.Publisher.(BatchPublisher); ok {
		return PublishInWaves(ctx, msgs, func(ctx context.Context, topic string, ms []Message) []error {
			pctx, cancel := context.WithTimeout(ctx, publishTimeout)
			defer cancel()
			return bp.PublishBatch(pctx, topic, ms)
		})
	}
	return PublishInOrder(ctx, msgs, func(ctx context.Context, m Message) error {
		pctx, cancel := context.WithTimeout(ctx, publishTimeout)
		defer cancel()
		return r.Publisher.Publish(pctx, m)
	})
}
