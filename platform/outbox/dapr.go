package outbox

import (
	"context"
	"errors"
	"fmt"
	"sync"

	dapr "github.com/dapr/go-sdk/client"
)

// DaprPublisher publishes through the app's own Dapr sidecar with the Dapr
// Go SDK (PublishEvent over the sidecar's gRPC API). The sidecar wraps the
// protojson payload in a CloudEvent whose id is the event id, so consumers
// and the broker's tooling see one id for one event.
type DaprPublisher struct {
	Address  string // sidecar gRPC address, e.g. 127.0.0.1:50001
	PubSub   string // component name, "pubsub"
	APIToken string // the Dapr API token the sidecar expects
	// EventType is the CloudEvent type of every event, e.g.
	// pms.patient.v1.PatientEvent.
	EventType string

	mu     sync.Mutex
	client dapr.Client
}

// Publish sends m and succeeds only when the sidecar accepted it. The SDK
// client is created on first use (the sidecar may start after the app) and
// kept; a failed connection is retried on the next call.
func (p *DaprPublisher) Publish(ctx context.Context, m Message) error {
	c, err := p.connect(ctx)
	if err != nil {
		return fmt.Errorf("outbox.publish %s: %w", m.EventID, err)
	}
	err = c.PublishEvent(ctx, p.PubSub, m.Topic, []byte(m.Payload),
		dapr.PublishEventWithContentType("application/json"),
		dapr.PublishEventWithMetadata(p.metadata(m)))
	if err != nil {
		return fmt.Errorf("outbox.publish %s: %w", m.EventID, err)
	}
	return nil
}

func (p *DaprPublisher) connect(ctx context.Context) (dapr.Client, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.client != nil {
		return p.client, nil
	}
	if p.Address == "" {
		return nil, errors.New("the sidecar's address is required")
	}
	c, err := dapr.NewClientWithAddressContext(ctx, p.Address)
	if err != nil {
		return nil, err
	}
	if p.APIToken != "" { // none beside a sidecar without one (authn.SidecarToken)
		c.WithAuthToken(p.APIToken)
	}
	p.client = c
	return c, nil
}

// Close releases the sidecar connection.
func (p *DaprPublisher) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.client != nil {
		p.client.Close()
		p.client = nil
	}
}

// PublishBatch sends msgs, all of topic, in one bulk publish request (the
// SDK's PublishEvents over the sidecar's BulkPublishEvent), each entry
// with its own CloudEvent id, type and partition key, and returns each
// message's result: the sidecar reports which entries it could not
// publish.
func (p *DaprPublisher) PublishBatch(ctx context.Context, topic string, msgs []Message) []error {
	errs := make([]error, len(msgs))
	c, err := p.connect(ctx)
	if err != nil {
		for i := range errs {
			errs[i] = fmt.Errorf("outbox.publish_batch: %w", err)
		}
		return errs
	}
	events := make([]any, len(msgs))
	index := make(map[string]int, len(msgs))
	for i, m := range msgs {
		events[i] = dapr.PublishEventsEvent{EntryID: m.EventID, Data: []byte(m.Payload), ContentType: "application/json",
			Metadata: p.metadata(m)}
		index[m.EventID] = i
	}
	res := c.PublishEvents(ctx, p.PubSub, topic, events)
	if res.Error == nil {
		return errs
	}
	named := false
	for _, f := range res.FailedEvents {
		if e, ok := f.(dapr.PublishEventsEvent); ok {
			if i, ok := index[e.EntryID]; ok {
				errs[i] = fmt.Errorf("outbox.publish %s: %w", e.EntryID, res.Error)
				named = true
			}
		}
	}
	if !named { // the failure names no entry: none is known to be published
		for i, m := range msgs {
			errs[i] = fmt.Errorf("outbox.publish %s: %w", m.EventID, res.Error)
		}
	}
	return errs
}

// metadata is what the sidecar needs to publish m: its partition key, the
// CloudEvent id and type (the publisher's, unless m has its own) and, when
// m was traced, its traceparent (per entry, in a bulk request too: each
// event continues its own change's trace).
func (p *DaprPublisher) metadata(m Message) map[string]string {
	typ := p.EventType
	if m.Type != "" {
		typ = m.Type
	}
	md := map[string]string{"partitionKey": m.Key, "cloudevent.id": m.EventID, "cloudevent.type": typ}
	if m.TraceParent != "" {
		md["cloudevent.traceparent"] = m.TraceParent
	}
	return md
}
