package httpserver_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/pms-dapr/pms/platform/httpserver"
)

func TestReadyReportsFailingChecksWithoutDetail(t *testing.T) {
	h := httpserver.Health{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Checks: map[string]httpserver.Check{
		"database": func(context.Context) error { return errors.New("password authentication failed for user x") },
		"other":    func(context.Context) error { return nil },
	}}
	rec := httptest.NewRecorder()
	h.Ready(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.JSONEq(t, `{"status":"unavailable","checks":{"database":"unavailable"}}`, rec.Body.String())

	h.Checks = map[string]httpserver.Check{"other": func(context.Context) error { return nil }}
	rec = httptest.NewRecorder()
	h.Ready(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	assert.Equal(t, http.StatusOK, rec.Code)
}
