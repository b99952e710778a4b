package patientdb

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pms-dapr/pms/apps/patient-service/internal/outbox"
	"github.com/pms-dapr/pms/apps/patient-service/internal/patient"
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

// PublishPending hands up to limit unsent events, oldest first, to publish
// and marks each one sent once publish succeeds. It stops at the first
// failure, recording it, so events of one patient are never reordered.
// It returns how many were published.
func (s *Store) PublishPending(ctx context.Context, limit int, publish func(context.Context, outbox.Message) error) (int, error) {
	sent := 0
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
		for _, x := range pending {
			if perr := publish(ctx, x.msg); perr != nil {
				_, err := tx.Exec(ctx, `UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1`, x.id, perr.Error())
				if err != nil {
					return err
				}
				return nil
			}
			if _, err := tx.Exec(ctx, `UPDATE outbox SET sent_at = now(), attempts = attempts + 1, last_error = NULL WHERE id = $1`, x.id); err != nil {
				return err
			}
			sent++
		}
		return nil
	})
	if err != nil {
		return sent, fmt.Errorf("patientdb.publish_pending: %w", err)
	}
	return sent, nil
}
