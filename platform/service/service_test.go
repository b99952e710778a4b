package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/platform/service"
)

func TestRequestIDsKeepsWellFormedIDsAndReplacesOthers(t *testing.T) {
	var inCtx string
	h := service.RequestIDs(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		inCtx = service.RequestID(r.Context())
	}))
	cases := map[string]bool{"abc-123_x.y": true, "": false, "bad id\n": false, string(make([]byte, 200)): false}
	for in, kept := range cases {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("X-Request-Id", in)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		out := rec.Header().Get("X-Request-Id")
		assert.Equal(t, out, inCtx, "the context carries the answered id")
		if kept {
			assert.Equal(t, in, out)
		} else {
			assert.Len(t, out, 36, "a fresh uuid replaces %q", in)
		}
	}
}

func TestReadyReportsFailingChecksWithoutDetail(t *testing.T) {
	h := service.Health{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Checks: map[string]service.Check{
		"database": func(context.Context) error { return errors.New("password authentication failed for user x") },
		"other":    func(context.Context) error { return nil },
	}}
	rec := httptest.NewRecorder()
	h.Ready(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.JSONEq(t, `{"status":"unavailable","checks":{"database":"unavailable"}}`, rec.Body.String())

	h.Checks = map[string]service.Check{"other": func(context.Context) error { return nil }}
	rec = httptest.NewRecorder()
	h.Ready(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	assert.Equal(t, http.StatusOK, rec.Code)
}

func TestLogLinesCarryRequestAndTraceIDs(t *testing.T) {
	var buf bytes.Buffer
	log := service.NewLoggerTo(&buf, "test")
	h := service.RequestIDs(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		log.InfoContext(r.Context(), "hello")
	}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("X-Request-Id", "req-9")
	req.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	h.ServeHTTP(httptest.NewRecorder(), req)
	var line map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &line))
	assert.Equal(t, "req-9", line["request_id"])
	assert.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", line["trace_id"])
	assert.Equal(t, "test", line["app"])
}
