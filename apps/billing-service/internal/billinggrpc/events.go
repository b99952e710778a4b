package billinggrpc

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"

	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"github.com/dapr/go-sdk/service/common"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/pms-dapr/pms/apps/billing-service/internal/billing"
	"github.com/pms-dapr/pms/platform/tracing"
	"github.com/pms-dapr/pms/platform/validation"
	patientv1 "github.com/pms-dapr/pms/proto/patient/v1"
)

// PatientSubscription is billing-service's subscription to patient events
// (programmatic: the Dapr Go SDK lists it to the sidecar). An event it
// can never handle goes to the dead-letter topic analytics also uses, so
// one place holds every undeliverable patient event.
func PatientSubscription(pubsub string) *common.Subscription {
	return &common.Subscription{PubsubName: pubsub, Topic: "patient", Route: "/events/patient", DeadLetterTopic: "patient-deadletter"}
}

// PatientBulk is how the sidecar batches patient events for billing: up to
// 100 of a partition per delivery, gathered for at most 50 ms (as
// analytics-service's subscription to them).
var PatientBulk = &runtimev1pb.BulkSubscribeConfig{Enabled: true, MaxMessagesCount: 100, MaxAwaitDurationMs: 50}

// ErrMalformed marks an event that can never be handled.
var ErrMalformed = errors.New("malformed patient event")

// PatientEvents closes a patient's account when the patient is deleted,
// once per event id; other patient events need nothing from billing. A
// CloudEvent may hold one patient event or a batch of them
// (PatientEventBatch, from a bulk import). A malformed event is dropped
// (to the dead-letter topic); a storage failure asks the sidecar for
// redelivery.
func PatientEvents(svc *billing.Service, log *slog.Logger) common.TopicEventHandler {
	return func(ctx context.Context, e *common.TopicEvent) (retry bool, err error) {
		// The consumer's span is a child of the event's own trace (the
		// change that published it), linked to the delivery's.
		ctx, span := tracing.StartSpan(tracing.FromTraceParent(ctx, e.TraceParent), "consume "+e.Topic,
			trace.WithSpanKind(trace.SpanKindConsumer), trace.WithLinks(trace.LinkFromContext(ctx)),
			trace.WithAttributes(attribute.String("messaging.destination.name", e.Topic), attribute.String("messaging.message.id", e.ID)))
		defer func() {
			if err != nil {
				span.SetStatus(codes.Error, "not handled")
			}
			span.End()
		}()
		evs, err := decodePatientEvents(e.Type, e.RawData)
		for _, pe := range evs {
			if pe.GetType() != patientv1.EventType_PATIENT_DELETED {
				continue
			}
			var closed, duplicate bool
			closed, duplicate, err = svc.PatientDeleted(ctx, pe.GetEventId(), pe.GetPatientId())
			switch {
			case closed:
				log.InfoContext(ctx, "billing account closed: patient deleted", "patient_id", pe.GetPatientId(), "event_id", pe.GetEventId())
			case duplicate:
				log.InfoContext(ctx, "duplicate event ignored", "event_id", pe.GetEventId())
			}
			var inv *validation.Error
			if errors.As(err, &inv) {
				err = errors.Join(ErrMalformed, err)
			}
			if err != nil {
				// The batch comes again (or goes to the dead-letter topic)
				// whole; the deletions it held that were handled are
				// handled once, by event id.
				break
			}
		}
		switch {
		case err == nil:
			return false, nil
		case errors.Is(err, ErrMalformed):
			log.WarnContext(ctx, "malformed patient event dropped to the dead-letter topic", "cloudevent_id", e.ID, "err", err)
			return false, err
		default:
			log.ErrorContext(ctx, "patient event not handled; asking for redelivery", "cloudevent_id", e.ID, "err", err)
			return true, err
		}
	}
}

// patientBatchType is the CloudEvent type of a PatientEventBatch.
var patientBatchType = string((&patientv1.PatientEventBatch{}).ProtoReflect().Descriptor().FullName())

// decodePatientEvents reads the patient events in a CloudEvent's data: its
// protojson, as an object or as a JSON string holding it; a
// PatientEventBatch (by the CloudEvent's type) when it holds many, else one
// PatientEvent. Every event must have a type.
func decodePatientEvents(ceType string, data []byte) ([]*patientv1.PatientEvent, error) {
	var s string
	if json.Unmarshal(data, &s) == nil {
		data = []byte(s)
	}
	opts := protojson.UnmarshalOptions{DiscardUnknown: true}
	var evs []*patientv1.PatientEvent
	if ceType == patientBatchType {
		var batch patientv1.PatientEventBatch
		if err := opts.Unmarshal(data, &batch); err != nil {
			return nil, errors.Join(ErrMalformed, err)
		}
		evs = batch.GetEvents()
	} else {
		var pe patientv1.PatientEvent
		if err := opts.Unmarshal(data, &pe); err != nil {
			return nil, errors.Join(ErrMalformed, err)
		}
		evs = []*patientv1.PatientEvent{&pe}
	}
	if len(evs) == 0 {
		return nil, ErrMalformed
	}
	for _, pe := range evs {
		if pe.GetType() == patientv1.EventType_EVENT_TYPE_UNSPECIFIED {
			return nil, ErrMalformed
		}
	}
	return evs, nil
}
