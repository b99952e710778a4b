// Package gateway is the system's single REST entry point: it routes each
// public path to the app that owns it through the local Dapr sidecar
// (service invocation), and turns invocation failures into problem+json.
package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
	"time"

	"github.com/pms-dapr/pms/platform/problem"
	"github.com/pms-dapr/pms/platform/service"
)

// errInvocation marks a response produced by the sidecar itself because it
// could not reach the target app.
var errInvocation = errors.New("dapr invocation failed")

// newSidecarTransport is the connection pool every proxy shares: they all
// talk to the same sidecar.
func newSidecarTransport() http.RoundTripper {
	return &http.Transport{
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
	}
}

// NewProxy returns a handler forwarding requests (method, path without
// stripPrefix, query, body, headers and request id) to app appID through the
// sidecar over transport. Headers a client could use to choose another
// target or to pose as the gateway are replaced.
func NewProxy(cfg Config, transport http.RoundTripper, appID, stripPrefix string, log *slog.Logger) http.Handler {
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Path = strings.TrimPrefix(pr.Out.URL.Path, stripPrefix)
			pr.Out.URL.RawPath = ""
			pr.SetURL(cfg.Sidecar)
			pr.SetXForwarded()
			pr.Out.Header.Set("Dapr-Api-Token", cfg.DaprAPIToken)
			pr.Out.Header.Set("Dapr-App-Id", appID)
			pr.Out.Header.Set(service.RequestIDHeader, service.RequestID(pr.In.Context()))
		},
		Transport:      transport,
		ModifyResponse: detectInvocationFailure,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			status := http.StatusBadGateway
			detail := "The " + appID + " could not be reached."
			if errors.Is(err, errInvocation) {
				status = http.StatusServiceUnavailable
				detail = "The " + appID + " is unavailable; try again shortly."
			}
			log.WarnContext(r.Context(), "upstream failure", "app_id", appID, "err", err)
			if status == http.StatusServiceUnavailable {
				w.Header().Set("Retry-After", "2")
			}
			problem.Write(w, r, problem.New(status, detail))
		},
	}
	return rp
}

// detectInvocationFailure recognises the sidecar's own error answers
// (a JSON body with an ERR_* errorCode, e.g. ERR_DIRECT_INVOKE when the
// target has no healthy instance or its circuit breaker is open). Apps
// answer errors as problem+json, so their responses pass through untouched.
func detectInvocationFailure(resp *http.Response) error {
	// The gateway already answers with the request id; drop the upstream copy.
	resp.Header.Del(service.RequestIDHeader)
	if resp.StatusCode < 500 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("read sidecar error: %w", err)
	}
	var daprErr struct {
		ErrorCode string `json:"errorCode"`
		Message   string `json:"message"`
	}
	if json.Unmarshal(body, &daprErr) == nil && strings.HasPrefix(daprErr.ErrorCode, "ERR_") {
		return fmt.Errorf("%w: %s: %s", errInvocation, daprErr.ErrorCode, daprErr.Message)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return nil
}
