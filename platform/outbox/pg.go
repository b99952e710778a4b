package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pms-dapr/pms/platform/metrics"
	"github.com/pms-dapr/pms/platform/pgdb"
	"github.com/pms-dapr/pms/platform/tracing"
)

// PG is an outbox table in PostgreSQL: a service inserts a row into
// `outbox` in the transaction of the change the event describes, and
// `NOTIFY outbox` (a trigger) wakes the relay when it commits. Its schema:
//
//	CREATE TABLE outbox (
//	    id            bigserial PRIMARY KEY,
//	    event_id      uuid        NOT NULL UNIQUE,
//	    topic         text        NOT NULL,
//	    partition_key text        NOT NULL,
//	    payload       text        NOT NULL,
//	    created_at    timestamptz NOT NULL DEFAULT now(),
//	    sent_at       timestamptz,
//	    attempts      integer     NOT NULL DEFAULT 0,
//	    last_error    text,
//	    traceparent   text, -- the W3C traceparent of the change's span, if traced
//	    event_type    text  -- the CloudEvent type, when not the publisher's
//	);
type PG struct {
	Pool *pgxpool.Pool
	// Name prefixes errors, e.g. "patientdb".
	Name string
}

// Insert is the statement a service's store runs to put m in the outbox.
const Insert = `INSERT INTO outbox (event_id, topic, partition_key, payload, traceparent, event_type)
	VALUES ($1, $2, $3, $4, nullif($5, ''), nullif($6, ''))`

// Add inserts m in tx, with the traceparent of ctx's span (the change's),
// so the event continues the change's trace.
func Add(ctx context.Context, tx pgx.Tx, m Message) error {
	_, err := tx.Exec(ctx, Insert, m.EventID, m.Topic, m.Key, m.Payload, traceParent(ctx, m), m.Type)
	return err
}

// Queue adds the insert of m to b, a batch of statements that commit
// together (one round trip: pgx.Batch), with the traceparent of ctx's span
// as Add.
func Queue(ctx context.Context, b *pgx.Batch, m Message) {
	b.Queue(Insert, m.EventID, m.Topic, m.Key, m.Payload, traceParent(ctx, m), m.Type)
}

// Copy inserts msgs in tx with one COPY (a bulk change's events), each
// with its traceparent as Add.
func Copy(ctx context.Context, tx pgx.Tx, msgs []Message) error {
	rows := make([][]any, len(msgs))
	for i, m := range msgs {
		rows[i] = []any{m.EventID, m.Topic, m.Key, m.Payload, pgdb.NullIfEmpty(traceParent(ctx, m)), pgdb.NullIfEmpty(m.Type)}
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"outbox"}, []string{"event_id", "topic", "partition_key", "payload", "traceparent", "event_type"},
		pgx.CopyFromRows(rows))
	return err
}

// traceParent is m's own traceparent, else ctx's.
func traceParent(ctx context.Context, m Message) string {
	if m.TraceParent != "" {
		return m.TraceParent
	}
	return tracing.TraceParent(ctx)
}

const selectUnsent = `SELECT id, event_id, topic, partition_key, payload, coalesce(traceparent, ''), coalesce(event_type, '') FROM outbox
	WHERE sent_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`

// PublishPending hands up to limit unsent events, oldest first, to publish
// (which keeps each partition key's order: Relay.publish) and marks those
// published as sent with one statement, in one transaction that holds
// their rows (a second relay skips them). It returns how many were
// published and, if any failed (each failure is recorded on its row), an
// error naming the first.
func (s PG) PublishPending(ctx context.Context, limit int, publish func(context.Context, []Message) []error) (int, error) {
	sent := 0
	var failed error
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, selectUnsent, limit)
		type row struct {
			id  int64
			msg Message
		}
		pending, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
			var x row
			err := r.Scan(&x.id, &x.msg.EventID, &x.msg.Topic, &x.msg.Key, &x.msg.Payload, &x.msg.TraceParent, &x.msg.Type)
			return x, err
		})
		if err != nil {
			return err
		}
		msgs := make([]Message, len(pending))
		for i, x := range pending {
			msgs[i] = x.msg
		}
		errs := publish(ctx, msgs)
		var sentIDs []int64
		for i, x := range pending {
			switch {
			case errors.Is(errs[i], ErrNotAttempted):
			case errs[i] == nil:
				sentIDs = append(sentIDs, x.id)
			default:
				if failed == nil {
					failed = errs[i]
				}
				if _, err := tx.Exec(ctx, `UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1`, x.id, errs[i].Error()); err != nil {
					return err
				}
			}
		}
		if len(sentIDs) > 0 {
			if _, err := tx.Exec(ctx, `UPDATE outbox SET sent_at = now(), attempts = attempts + 1, last_error = NULL WHERE id = ANY($1)`, sentIDs); err != nil {
				return err
			}
		}
		sent = len(sentIDs)
		return nil
	})
	if err != nil {
		return 0, pgdb.Errorf("%s.publish_pending: %w", s.Name, err)
	}
	if failed != nil {
		// A publishing failure, not the database's: not marked unavailable.
		return sent, fmt.Errorf("%s.publish_pending: %w", s.Name, failed)
	}
	return sent, nil
}

// Watch sends on wake (without blocking) whenever a transaction that
// inserted into the outbox commits, until ctx ends. It listens on a
// connection of its own, reconnecting after a failure (and waking the relay
// then too, in case a notification was missed). The wait before
// reconnecting doubles while attempts fail and starts again from the
// shortest once one has listened.
func (s PG) Watch(ctx context.Context, log *slog.Logger, wake chan<- struct{}) error {
	signal := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	const firstBackoff = 100 * time.Millisecond
	backoff := firstBackoff
	for ctx.Err() == nil {
		listened, err := s.listen(ctx, signal)
		if ctx.Err() != nil {
			return nil
		}
		if listened {
			backoff = firstBackoff
		}
		log.WarnContext(ctx, "outbox listener lost its connection; relay falls back to polling until it is back", "err", err, "retry_in", backoff.String())
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
		signal()
	}
	return nil
}

// listen listens until its connection fails; listened tells whether LISTEN
// succeeded first.
func (s PG) listen(ctx context.Context, signal func()) (listened bool, err error) {
	pooled, err := s.Pool.Acquire(ctx)
	if err != nil {
		return false, err
	}
	// A connection that has listened is not handed back to the pool.
	conn := pooled.Hijack()
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN outbox"); err != nil {
		return false, err
	}
	signal() // anything committed before LISTEN
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return true, err
		}
		signal()
	}
}

// Metrics are the outbox's gauges for a scrape: how many events wait, and
// how long the oldest has waited (0 when none does).
func (s PG) Metrics() *metrics.Gauges {
	return metrics.NewGauges(func(ctx context.Context) ([]metrics.Value, error) {
		var n int
		var lag float64
		err := s.Pool.QueryRow(ctx, `SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8
			FROM outbox WHERE sent_at IS NULL`).Scan(&n, &lag)
		if err != nil {
			return nil, err
		}
		return []metrics.Value{{Name: "pms_outbox_pending", V: float64(n)}, {Name: "pms_outbox_lag_seconds", V: lag}}, nil
	},
		metrics.Gauge{Name: "pms_outbox_pending", Help: "Events in the outbox not yet accepted by the sidecar."},
		metrics.Gauge{Name: "pms_outbox_lag_seconds", Help: "Age of the oldest event in the outbox not yet published (0: none waits)."})
}
