package httpserver_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/pms-dapr/pms/platform/authn"
	"github.com/pms-dapr/pms/platform/httpserver"
)

func TestRouterOpensOnlyHealthWithoutTheAppToken(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tagged := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-More", "ran")
			next.ServeHTTP(w, r)
		})
	}
	r := httpserver.Router(log, "app-token", httpserver.Health{Log: log}, tagged)
	r.Get("/things", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	for _, tc := range []struct {
		method, path, token string
		want                int
		more                bool
	}{
		{"GET", "/healthz", "", http.StatusOK, false},
		{"GET", "/readyz", "", http.StatusOK, false},
		{"POST", "/healthz", "", http.StatusUnauthorized, false},
		{"GET", "/things", "", http.StatusUnauthorized, false},
		{"GET", "/things", "wrong", http.StatusUnauthorized, false},
		{"GET", "/things", "app-token", http.StatusTeapot, true},
		{"GET", "/nowhere", "", http.StatusUnauthorized, false},
		{"GET", "/nowhere", "app-token", http.StatusNotFound, true},
		{"DELETE", "/things", "app-token", http.StatusMethodNotAllowed, true},
	} {
		req := httptest.NewRequest(tc.method, tc.path, nil)
		if tc.token != "" {
			req.Header.Set(authn.APITokenHeader, tc.token)
		}
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		assert.Equal(t, tc.want, rec.Code, "%s %s token %q", tc.method, tc.path, tc.token)
		assert.NotEmpty(t, rec.Header().Get("X-Request-Id"), "every answer carries a request id")
		assert.Equal(t, tc.more, rec.Header().Get("X-More") == "ran", "%s %s: the extra middleware runs after the token check, on guarded routes only", tc.method, tc.path)
	}
}
