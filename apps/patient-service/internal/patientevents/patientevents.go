// Package patientevents encodes patient-service's events for the outbox
// (platform/outbox relays them).
package patientevents

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pms-dapr/pms/apps/patient-service/internal/patient"
	"github.com/pms-dapr/pms/platform/outbox"
	patientv1 "github.com/pms-dapr/pms/proto/patient/v1"
)

// Topic is the pub/sub topic patient events go to.
const Topic = "patient"

// EventType is the CloudEvent type of the events on Topic.
const EventType = "pms.patient.v1.PatientEvent"

// Encode renders ev as the message the topic carries: the protojson
// PatientEvent (proto/patient/v1), keyed by the patient so one patient's
// events keep their order.
func Encode(ev patient.Event) (outbox.Message, error) {
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
		return outbox.Message{}, fmt.Errorf("patientevents.encode: unknown event type %q", ev.Type)
	}
	b, err := protojson.Marshal(msg)
	if err != nil {
		return outbox.Message{}, fmt.Errorf("patientevents.encode: %w", err)
	}
	return outbox.Message{EventID: ev.ID, Topic: Topic, Key: p.ID, Payload: string(b)}, nil
}
