package outbox

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// DaprPublisher publishes through the Dapr sidecar's HTTP publish API
// (POST /v1.0/publish/{pubsub}/{topic}); the sidecar wraps the payload in a
// CloudEvent whose data is the protojson event.
type DaprPublisher struct {
	SidecarURL string // e.g. http://127.0.0.1:3500
	PubSub     string // component name, "pubsub"
	Client     *http.Client
}

// Publish sends m and succeeds only when the sidecar accepted it.
func (p *DaprPublisher) Publish(ctx context.Context, m Message) error {
	u := fmt.Sprintf("%s/v1.0/publish/%s/%s?metadata.partitionKey=%s",
		p.SidecarURL, url.PathEscape(p.PubSub), url.PathEscape(m.Topic), url.QueryEscape(m.Key))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewBufferString(m.Payload))
	if err != nil {
		return fmt.Errorf("outbox.publish: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.Client.Do(req)
	if err != nil {
		return fmt.Errorf("outbox.publish %s: %w", m.EventID, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
		return fmt.Errorf("outbox.publish %s: sidecar answered %s: %s", m.EventID, resp.Status, bytes.TrimSpace(body))
	}
	return nil
}
