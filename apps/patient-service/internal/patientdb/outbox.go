package patientdb

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pms-dapr/pms/apps/patient-service/internal/outbox"
	"github.com/pms-dapr/pms/apps/patient-service/internal/patient"
	"github.com/pms-dapr/pms/platform/pgdb"
	patientv1 "github.com/pms-dapr/pms/proto/patient/v1"
)

// encodeEvent renders ev as the protojson PatientEvent the topic carries.
func encodeEvent(ev patient.Event) (string, error) {
	p := ev.Patient
	// Only identifiers and de-identified attributes leave the service: the
	// topic is retained and read by systems that need no PHI.
	msg := &patientv1.PatientEvent{
		EventId:   ev.ID,
		Type:      patientv1.EventType(patientv1.EventType_value[string(ev.Type)]),
		PatientId: p.ID,
		Attributes: &patientv1.Attributes{
			AgeBand: patient.AgeBand(p.DateOfBirth, ev.OccurredAt),
			Gender:  p.Gender,
		},
		OccurredAt: timestamppb.New(ev.OccurredAt),
		Version:    p.Version,
	}
	if msg.Type == patientv1.EventType_EVENT_TYPE_UNSPECIFIED {
		return "", fmt.Errorf("unknown event type %q", ev.Type)
	}
	b, err := protojson.Marshal(msg)
	return string(b), err
}

const selectUnsent = `SELECT id, event_id, topic, partition_key, payload FROM outbox
	WHERE sent_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`

// publishConcurrency bounds how many partition keys are published at once.
const publishConcurrency = 16

// PublishPending hands up to limit unsent events, oldest first, to publish
// and marks those published as sent, in one transaction that holds their
// rows (a second relay skips them). Events with different partition keys
// are published concurrently; events with the same key one after another,
// in order, stopping at the key's first failure, so one patient's events
// are never reordered. It returns how many were published and, if any
// failed (each failure is recorded on its row), an error naming the first.
func (s *Store) PublishPending(ctx context.Context, limit int, publish func(context.Context, outbox.Message) error) (int, error) {
	sent := 0
	var failed error
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, selectUnsent, limit)
		type row struct {
			id  int64
			msg outbox.Message
		}
		pending, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
			var x row
			err := r.Scan(&x.id, &x.msg.EventID, &x.msg.Topic, &x.msg.Key, &x.msg.Payload)
			return x, err
		})
		if err != nil {
			return err
		}
		var keys []string
		byKey := map[string][]int{}
		for i, x := range pending {
			if _, ok := byKey[x.msg.Key]; !ok {
				keys = append(keys, x.msg.Key)
			}
			byKey[x.msg.Key] = append(byKey[x.msg.Key], i)
		}
		errs := make([]error, len(pending))
		attempted := make([]bool, len(pending))
		sem := make(chan struct{}, publishConcurrency)
		var wg sync.WaitGroup
		for _, key := range keys {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				for _, i := range byKey[key] {
					attempted[i] = true
					if errs[i] = publish(ctx, pending[i].msg); errs[i] != nil {
						return
					}
				}
			})
		}
		wg.Wait()
		var sentIDs []int64
		for i, x := range pending {
			switch {
			case !attempted[i]:
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
		return 0, pgdb.Errorf("patientdb.publish_pending: %w", err)
	}
	if failed != nil {
		return sent, pgdb.Errorf("patientdb.publish_pending: %w", failed)
	}
	return sent, nil
}

// WatchOutbox sends on wake (without blocking) whenever a transaction that
// inserted into the outbox commits, until ctx ends. It listens on a
// connection of its own, reconnecting after a failure (and waking the relay
// then too, in case a notification was missed). The wait before
// reconnecting doubles while attempts fail and starts again from the
// shortest once one has listened.
func (s *Store) WatchOutbox(ctx context.Context, log *slog.Logger, wake chan<- struct{}) error {
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
func (s *Store) listen(ctx context.Context, signal func()) (listened bool, err error) {
	pooled, err := s.pool.Acquire(ctx)
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
