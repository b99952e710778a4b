package analyticsdb

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pms-dapr/pms/apps/analytics-service/internal/deadletter"
	"github.com/pms-dapr/pms/platform/pgdb"
)

// DeadLetters implements deadletter.Store in the analytics database.
type DeadLetters struct{ s *Store }

// DeadLetters returns the dead-letter store on the same pool.
func (s *Store) DeadLetters() DeadLetters { return DeadLetters{s} }

// NoteDrop records (or replaces) why an event was dropped.
func (d DeadLetters) NoteDrop(ctx context.Context, topic, cloudEventID, reason string) error {
	_, err := d.s.pool.Exec(ctx, `INSERT INTO drop_reasons (topic, cloudevent_id, reason) VALUES ($1, $2, $3)
		ON CONFLICT (topic, cloudevent_id) DO UPDATE SET reason = excluded.reason, dropped_at = now()`, topic, cloudEventID, reason)
	return wrap("analyticsdb.note_drop", err)
}

// Park stores l once, with the reason noted for it. A letter that was
// redriven or discarded and comes back (it failed again) is pending again,
// with the new reason; a second copy of one still pending changes nothing.
func (d DeadLetters) Park(ctx context.Context, l deadletter.Letter) error {
	var occurred *time.Time
	if !l.OccurredAt.IsZero() {
		occurred = &l.OccurredAt
	}
	_, err := d.s.pool.Exec(ctx, `INSERT INTO dead_letters (topic, cloudevent_id, event_id, event_type, occurred_at,
		partition_key, reason, data, traceparent)
		VALUES ($1, $2, $3, $4, $5, $6, coalesce((SELECT reason FROM drop_reasons WHERE topic = $1 AND cloudevent_id = $2), $7), $8, nullif($9, ''))
		ON CONFLICT (topic, cloudevent_id) DO UPDATE
			SET redriven_at = NULL, discarded_at = NULL, discard_reason = NULL, reason = excluded.reason, dead_lettered_at = now(),
				traceparent = excluded.traceparent
			WHERE dead_letters.redriven_at IS NOT NULL OR dead_letters.discarded_at IS NOT NULL`,
		l.Topic, l.CloudEventID, l.EventID, l.Type, occurred, l.PartitionKey, deadletter.NoReason, l.Data, l.TraceParent)
	return wrap("analyticsdb.park", err)
}

// Pending lists letters neither redriven nor discarded, oldest first: of
// topic (or all), and only ids when given.
func (d DeadLetters) Pending(ctx context.Context, topic string, ids []string) ([]deadletter.Letter, error) {
	rows, err := d.s.pool.Query(ctx, `SELECT id::text, topic, cloudevent_id, event_id, event_type,
		occurred_at, partition_key, reason, data, dead_lettered_at, coalesce(traceparent, '')
		FROM dead_letters WHERE redriven_at IS NULL AND discarded_at IS NULL AND ($1 = '' OR topic = $1)
		AND ($2::uuid[] IS NULL OR id = ANY($2::uuid[]))
		ORDER BY dead_lettered_at, id LIMIT 1000`, topic, ids)
	if err != nil {
		return nil, pgdb.Errorf("analyticsdb.pending: %w", err)
	}
	letters, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (deadletter.Letter, error) {
		var l deadletter.Letter
		var occurred *time.Time
		err := r.Scan(&l.ID, &l.Topic, &l.CloudEventID, &l.EventID, &l.Type, &occurred, &l.PartitionKey,
			&l.Reason, &l.Data, &l.DeadLetteredAt, &l.TraceParent)
		if occurred != nil {
			l.OccurredAt = *occurred
		}
		return l, err
	})
	return letters, wrap("analyticsdb.pending", err)
}

// MarkRedriven takes a letter off the pending list.
func (d DeadLetters) MarkRedriven(ctx context.Context, id string) error {
	_, err := d.s.pool.Exec(ctx, `UPDATE dead_letters SET redriven_at = now() WHERE id = $1 AND redriven_at IS NULL`, id)
	return wrap("analyticsdb.mark_redriven", err)
}

// MarkDiscarded takes the pending letters ids off the pending list for
// good, with the operator's reason, and returns those it took.
func (d DeadLetters) MarkDiscarded(ctx context.Context, ids []string, reason string) ([]string, error) {
	rows, err := d.s.pool.Query(ctx, `UPDATE dead_letters SET discarded_at = now(), discard_reason = $2
		WHERE id = ANY($1::uuid[]) AND redriven_at IS NULL AND discarded_at IS NULL RETURNING id::text`, ids, reason)
	if err != nil {
		return nil, pgdb.Errorf("analyticsdb.mark_discarded: %w", err)
	}
	done, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return done, wrap("analyticsdb.mark_discarded", err)
}

// Depth counts pending letters per original topic (every known topic,
// zero included).
func (d DeadLetters) Depth(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	for _, topic := range deadletter.Topics {
		out[topic] = 0
	}
	rows, err := d.s.pool.Query(ctx, `SELECT topic, count(*) FROM dead_letters WHERE redriven_at IS NULL AND discarded_at IS NULL GROUP BY topic`)
	if err != nil {
		return nil, pgdb.Errorf("analyticsdb.depth: %w", err)
	}
	var topic string
	var n int
	_, err = pgx.ForEachRow(rows, []any{&topic, &n}, func() error { out[topic] = n; return nil })
	return out, wrap("analyticsdb.depth", err)
}

// Audit appends who did what to which letters.
func (d DeadLetters) Audit(ctx context.Context, actor, action, topic string, ids []string) error {
	if ids == nil {
		ids = []string{}
	}
	_, err := d.s.pool.Exec(ctx, `INSERT INTO dead_letter_audit (actor, action, topic, dead_letter_ids) VALUES ($1, $2, $3, $4::uuid[])`,
		actor, action, topic, ids)
	return wrap("analyticsdb.audit", err)
}

// wrap marks err for the transports (pgdb.Errorf), and keeps nil nil.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return pgdb.Errorf(op+": %w", err)
}
