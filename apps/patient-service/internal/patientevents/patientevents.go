// Package patientevents encodes patient-service's events for the outbox
// (platform/outbox relays them).
package patientevents

import (
	"fmt"
	"slices"

	"github.com/google/uuid"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pms-dapr/pms/apps/patient-service/internal/patient"
	"github.com/pms-dapr/pms/platform/outbox"
	patientv1 "github.com/pms-dapr/pms/proto/patient/v1"
)

// Topic is the pub/sub topic patient events go to.
const Topic = "patient"

// EventType is the CloudEvent type of the events on Topic; BatchType that
// of a batch of them (PatientEventBatch), which a bulk change publishes.
const (
	EventType = "pms.patient.v1.PatientEvent"
	BatchType = "pms.patient.v1.PatientEventBatch"
)

// MaxBatch is the most events one batch carries. At about 200 bytes an
// event, a batch is some 20 KB, and a bulk delivery of 100 batches (the
// consumers' bulkSubscribe) stays within a sidecar's default 4 MB; a
// hundred patients to a message spares the broker and the sidecars all
// but one percent of their per-message work.
const MaxBatch = 100

// Encode renders ev as the message the topic carries: the protojson
// PatientEvent (proto/patient/v1), keyed by the patient so one patient's
// events keep their order.
func Encode(ev patient.Event) (outbox.Message, error) {
	msg, err := event(ev)
	if err != nil {
		return outbox.Message{}, err
	}
	b, err := protojson.Marshal(msg)
	if err != nil {
		return outbox.Message{}, fmt.Errorf("patientevents.encode: %w", err)
	}
	return outbox.Message{EventID: ev.ID, Topic: Topic, Key: ev.Patient.ID, Payload: string(b)}, nil
}

// EncodeBatches renders evs, at most one per patient, as messages of up
// to MaxBatch events each (PatientEventBatch, of type BatchType), keyed
// and identified by a new UUID per batch. Each event in a batch is the
// one Encode would render.
func EncodeBatches(evs []patient.Event) ([]outbox.Message, error) {
	var msgs []outbox.Message
	for chunk := range slices.Chunk(evs, MaxBatch) {
		batch := &patientv1.PatientEventBatch{Events: make([]*patientv1.PatientEvent, len(chunk))}
		for i, ev := range chunk {
			msg, err := event(ev)
			if err != nil {
				return nil, err
			}
			batch.Events[i] = msg
		}
		b, err := protojson.Marshal(batch)
		if err != nil {
			return nil, fmt.Errorf("patientevents.encode_batches: %w", err)
		}
		id := uuid.NewString()
		msgs = append(msgs, outbox.Message{EventID: id, Topic: Topic, Key: id, Payload: string(b), Type: BatchType})
	}
	return msgs, nil
}

// event is ev as the contract's PatientEvent.
func event(ev patient.Event) (*patientv1.PatientEvent, error) {
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
		return nil, fmt.Errorf("patientevents.encode: unknown event type %q", ev.Type)
	}
	return msg, nil
}
