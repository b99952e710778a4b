package outbox

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
)

// Relaying is a service's outbox relay as every service runs it: over the
// outbox table in pool (name labels its metrics and logs, e.g.
// "patientdb"), woken by each commit (LISTEN/NOTIFY), polling once a
// second only as a fallback, backing off up to 10 s while publishing
// fails, and taking up to 500 events a round (a backlog, such as a bulk
// import's events, goes out in bulk requests of hundreds). It registers the outbox's metrics with reg and returns the task
// that watches and relays until ctx ends.
func Relaying(pool *pgxpool.Pool, name string, publisher Publisher, log *slog.Logger, reg prometheus.Registerer) (func(context.Context) error, error) {
	store := PG{Pool: pool, Name: name}
	if err := reg.Register(store.Metrics()); err != nil {
		return nil, err
	}
	log = log.With("component", "outbox")
	wake := make(chan struct{}, 1)
	relay := &Relay{Store: store, Publisher: publisher, Log: log, Wake: wake, Interval: time.Second, MaxWait: 10 * time.Second, Batch: 500}
	return func(ctx context.Context) error {
		g, ctx := errgroup.WithContext(ctx)
		g.Go(func() error { return store.Watch(ctx, log, wake) })
		g.Go(func() error { return relay.Run(ctx) })
		return g.Wait()
	}, nil
}
