package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/pms-dapr/pms/platform/httpserver"
)

// sidecarReady checks that the sidecar's outbound side (components, name
// resolution) is up, which is what forwarding needs.
func sidecarReady(sidecar *url.URL, client *http.Client) httpserver.Check {
	u := sidecar.JoinPath("/v1.0/healthz/outbound").String()
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("sidecar outbound health: %s", resp.Status)
		}
		return nil
	}
}
