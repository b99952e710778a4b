package gateway_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/apps/api-gateway/internal/gateway"
	"github.com/pms-dapr/pms/platform/authn/authntest"
	"github.com/pms-dapr/pms/platform/httpserver"
)

// lockedBuffer is a log sink the server's goroutines may share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// auditLines are the log's "msg":"audit" lines.
func (l *lockedBuffer) auditLines(t *testing.T) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.b.String()), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		if m["msg"] == "audit" {
			out = append(out, m)
		}
	}
	return out
}

// Every request the gateway refuses for its token (401) or its role (403)
// is an audit line naming why, the route, and the caller as far as it is
// known; answers the apps give (their own refusals included, which they
// audit) and requests that pass are not.
func TestRefusalsAreAudited(t *testing.T) {
	signer := newSigner(t)
	bearer := readyBearer(t, signer)
	sidecar, _ := fakeSidecar(t, http.StatusForbidden, "application/problem+json", `{"status":403}`)
	logs := &lockedBuffer{}
	h := gateway.Routes(gateway.Config{Sidecar: sidecar, DaprAPIToken: daprToken}, gateway.Targets{Patients: "patient-service",
		Analytics: "analytics-service", Auth: "auth-service"}, bearer.Middleware, httpserver.Health{Log: discard()},
		slog.New(slog.NewJSONHandler(logs, nil)))
	send := func(method, path, token string) int {
		req := httptest.NewRequest(method, path, strings.NewReader(`{}`))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	clinician := signer.Token(authntest.Claims{Role: "clinician", Subject: "u-clin", Email: "clin@example.com"})
	require.Equal(t, http.StatusForbidden, send("GET", "/analytics/summary", clinician))
	require.Equal(t, http.StatusForbidden, send("DELETE", "/fhir/R4/Patient/"+someID, clinician))
	require.Equal(t, http.StatusUnauthorized, send("GET", "/patients", ""))
	require.Equal(t, http.StatusUnauthorized, send("GET", "/patients", signer.Forgeries()["expired"]))
	require.Equal(t, http.StatusForbidden, send("GET", "/patients/"+someID, clinician), "patient-service's own 403")

	lines := logs.auditLines(t)
	require.Len(t, lines, 4, "%v", lines)
	want := []map[string]any{
		{"reason": "role", "status": 403.0, "method": "GET", "route": "/analytics/summary", "user": "u-clin", "email": "clin@example.com", "role": "clinician"},
		{"reason": "role", "status": 403.0, "method": "DELETE", "route": "/fhir/R4/Patient/{id}", "user": "u-clin", "role": "clinician"},
		{"reason": "token", "status": 401.0, "method": "GET", "route": "/patients", "user": ""},
		{"reason": "token", "status": 401.0, "method": "GET", "route": "/patients", "user": ""},
	}
	for i, w := range want {
		assert.Equal(t, "refused", lines[i]["action"])
		for k, v := range w {
			assert.Equal(t, v, lines[i][k], "line %d %s", i, k)
		}
	}
}
