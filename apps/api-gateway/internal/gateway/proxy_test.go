package gateway_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/apps/api-gateway/internal/gateway"
	"github.com/pms-dapr/pms/platform/service"
)

// seen is what the fake sidecar received.
type seen struct {
	method, path, query, body, appID, token, requestID string
}

// fakeSidecar answers every request with status/contentType/body and records it.
func fakeSidecar(t *testing.T, status int, contentType, body string) (*url.URL, *seen) {
	t.Helper()
	got := &seen{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		*got = seen{r.Method, r.URL.Path, r.URL.RawQuery, string(b), r.Header.Get("Dapr-App-Id"),
			r.Header.Get("Dapr-Api-Token"), r.Header.Get("X-Request-Id")}
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("X-Request-Id", "upstream-copy")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return u, got
}

func routes(sidecar *url.URL) http.Handler {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	return gateway.Routes(sidecar, gateway.Targets{Patients: "patient-service", Analytics: "analytics-service"}, service.Health{Log: log}, log)
}

func TestForwardsThroughSidecarToOwningApp(t *testing.T) {
	sidecar, got := fakeSidecar(t, http.StatusCreated, "application/json", `{"id":"1"}`)
	req := httptest.NewRequest(http.MethodPost, "/patients?x=1&y=2", strings.NewReader(`{"name":"Ada"}`))
	req.Header.Set("Dapr-App-Id", "billing-service") // a client must not pick the target
	req.Header.Set("Dapr-Api-Token", "stolen")       // nor pass a sidecar token along
	req.Header.Set("X-Request-Id", "req-123")
	rec := httptest.NewRecorder()
	routes(sidecar).ServeHTTP(rec, req)

	require.Equal(t, http.StatusCreated, rec.Code)
	assert.JSONEq(t, `{"id":"1"}`, rec.Body.String())
	assert.Equal(t, seen{method: "POST", path: "/patients", query: "x=1&y=2", body: `{"name":"Ada"}`,
		appID: "patient-service", token: "", requestID: "req-123"}, *got)
	assert.Equal(t, []string{"req-123"}, rec.Header().Values("X-Request-Id"), "one request id in the answer")

	rec = httptest.NewRecorder()
	routes(sidecar).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/analytics/summary", nil))
	assert.Equal(t, "analytics-service", got.appID)
	assert.Equal(t, "/analytics/summary", got.path)
}

func TestUnknownPathsStayInside(t *testing.T) {
	sidecar, got := fakeSidecar(t, http.StatusOK, "application/json", `{}`)
	for _, p := range []string{"/v1.0/invoke/billing-service/method/x", "/v1.0/secrets/envstore/KAFKA_BROKERS", "/events/patient", "/"} {
		rec := httptest.NewRecorder()
		routes(sidecar).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
		assert.Equal(t, http.StatusNotFound, rec.Code, p)
	}
	assert.Empty(t, got.path, "nothing reached the sidecar")
}

func TestInvocationFailuresBecomeProblems(t *testing.T) {
	cases := map[string]struct {
		status      int
		contentType string
		body        string
		want        int
	}{
		"sidecar cannot reach app": {500, "application/json", `{"errorCode":"ERR_DIRECT_INVOKE","message":"fail to invoke"}`, 503},
		"app's own problem passes": {500, "application/problem+json", `{"status":500,"title":"Internal Server Error"}`, 500},
		"app's json 500 passes":    {500, "application/json", `{"error":"x"}`, 500},
		"app's 404 passes":         {404, "application/problem+json", `{"status":404}`, 404},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			sidecar, _ := fakeSidecar(t, tc.status, tc.contentType, tc.body)
			rec := httptest.NewRecorder()
			routes(sidecar).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/patients/1", nil))
			assert.Equal(t, tc.want, rec.Code)
			if tc.want != tc.status {
				assert.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
				assert.NotContains(t, rec.Body.String(), "ERR_DIRECT_INVOKE", "sidecar internals are not shown")
			} else {
				assert.Equal(t, tc.body, rec.Body.String())
			}
		})
	}
}

func TestSidecarDownIsBadGateway(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	u, _ := url.Parse(srv.URL)
	srv.Close()
	rec := httptest.NewRecorder()
	routes(u).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/patients", nil))
	require.Equal(t, http.StatusBadGateway, rec.Code)
	var p struct{ Status int }
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
	assert.Equal(t, http.StatusBadGateway, p.Status)
}
