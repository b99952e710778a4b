package main

import (
	"context"

	"go.opentelemetry.io/otel/trace"

	"github.com/pms-dapr/pms/apps/analytics-service/internal/deadletter"
	"github.com/pms-dapr/pms/platform/outbox"
	"github.com/pms-dapr/pms/platform/tracing"
)

// redriver sends a dead letter back to its topic through the sidecar, as
// it was first published: its CloudEvent id and type, its partition key
// and its trace. The redrive's own span (in the operator's request's
// trace) links that trace.
type redriver struct{ p *outbox.DaprPublisher }

func (r redriver) Redrive(ctx context.Context, l deadletter.Letter) error {
	ctx, span := tracing.StartSpan(ctx, "redrive "+l.Topic, trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithLinks(tracing.LinkTo(l.TraceParent)...))
	defer span.End()
	return r.p.Publish(ctx, outbox.Message{EventID: l.CloudEventID, Topic: l.Topic, Key: l.PartitionKey,
		Payload: string(l.Data), Type: l.Type, TraceParent: l.TraceParent})
}
