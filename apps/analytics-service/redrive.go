package main

import (
	"context"

	"github.com/pms-dapr/pms/apps/analytics-service/internal/deadletter"
	"github.com/pms-dapr/pms/platform/outbox"
)

// redriver sends a dead letter back to its topic through the sidecar, as
// it was first published: its CloudEvent id and type, its partition key.
type redriver struct{ p *outbox.DaprPublisher }

func (r redriver) Redrive(ctx context.Context, l deadletter.Letter) error {
	return r.p.Publish(ctx, outbox.Message{EventID: l.CloudEventID, Topic: l.Topic, Key: l.PartitionKey,
		Payload: string(l.Data), Type: l.Type})
}
