package service

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/platform/metrics"
)

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// Serve runs the server and every task until one fails, which stops the
// rest and is returned; with METRICS_ADDR set, the metrics are served and
// count the server's requests.
func TestServeRunsTasksAndStopsOnTheFirstFailure(t *testing.T) {
	p := &Process{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: metrics.NewRegistry(),
		listenHost: "127.0.0.1", metricsAddr: "127.0.0.1:" + freePort(t)}
	port := freePort(t)
	stopped := make(chan struct{})
	p.Go(func(ctx context.Context) error { <-ctx.Done(); close(stopped); return nil })
	boom := errors.New("boom")
	fail := make(chan struct{})
	p.Go(func(ctx context.Context) error {
		select {
		case <-fail:
			return boom
		case <-ctx.Done():
			return nil
		}
	})
	done := make(chan error, 1)
	go func() {
		done <- p.Serve(context.Background(), port, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	}()
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://127.0.0.1:" + port + "/x")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusTeapot
	}, 5*time.Second, 20*time.Millisecond)
	resp, err := http.Get("http://" + p.metricsAddr + "/metrics")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Contains(t, string(body), `pms_http_requests_total{code="418",method="GET",route="unmatched"} 1`)

	close(fail)
	select {
	case err := <-done:
		assert.ErrorIs(t, err, boom)
	case <-time.After(15 * time.Second):
		t.Fatal("Serve did not stop")
	}
	<-stopped
}
