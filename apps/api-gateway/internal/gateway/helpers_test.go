package gateway_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/apps/api-gateway/internal/gateway"
	"github.com/pms-dapr/pms/platform/authn/authntest"
	"github.com/pms-dapr/pms/platform/httpserver"
)

const (
	issuer    = "http://issuer.test/auth"
	audience  = "pms-api"
	daprToken = "gateway-sidecar-token"
)

// seen is what the fake sidecar received.
type seen struct {
	method, path, query, body, appID, token, requestID, override, xff, clientID string
}

// fakeSidecar answers every request with status/contentType/body and records it.
func fakeSidecar(t testing.TB, status int, contentType, body string) (*url.URL, *seen) {
	t.Helper()
	got := &seen{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		*got = seen{r.Method, r.URL.Path, r.URL.RawQuery, string(b), r.Header.Get("Dapr-App-Id"),
			r.Header.Get("Dapr-Api-Token"), r.Header.Get("X-Request-Id"),
			r.Header.Get("X-HTTP-Method-Override") + r.Header.Get("X-HTTP-Method") + r.Header.Get("X-Method-Override"),
			r.Header.Get("X-Forwarded-For"), r.Header.Get("X-Client-Request-Id")}
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("X-Request-Id", "upstream-copy")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return u, got
}

// readyBearer is the Dapr bearer middleware configured (from a component
// manifest, as in production) to trust signer's keys, served by a JWKS
// endpoint.
func readyBearer(t testing.TB, signer *authntest.Signer) *gateway.Bearer {
	t.Helper()
	return readyBearerFor(t, signer.JWKS)
}

// readyBearerFor is a ready Bearer whose JWKS is what published returns
// at each fetch.
func readyBearerFor(t testing.TB, published func() []byte) *gateway.Bearer {
	t.Helper()
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(published())
	}))
	t.Cleanup(jwks.Close)
	manifest := filepath.Join(t.TempDir(), "jwt-bearer.yaml")
	require.NoError(t, os.WriteFile(manifest, []byte(`apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: jwt-bearer
spec:
  type: middleware.http.bearer
  version: v1
  metadata:
    - name: issuer
      value: "`+issuer+`"
    - name: audience
      value: "`+audience+`"
    - name: jwksURL
      value: "`+jwks.URL+`"
`), 0o644))
	md, err := gateway.LoadBearerMetadata(manifest)
	require.NoError(t, err)
	b, err := gateway.NewBearer(t.Context(), md, discard())
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, b.Run(ctx))
	require.NoError(t, b.Ready(ctx))
	return b
}

func newSigner(t testing.TB) *authntest.Signer {
	t.Helper()
	s, err := authntest.NewSigner(issuer, audience)
	require.NoError(t, err)
	return s
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func routes(sidecar *url.URL, auth func(http.Handler) http.Handler, origins ...string) http.Handler {
	return routesWith(gateway.Config{Sidecar: sidecar, DaprAPIToken: daprToken, AllowedOrigins: origins}, auth)
}

func routesWith(cfg gateway.Config, auth func(http.Handler) http.Handler) http.Handler {
	return gateway.Routes(cfg, gateway.Targets{Patients: "patient-service", Analytics: "analytics-service", Auth: "auth-service"},
		auth, httpserver.Health{Log: discard()}, discard())
}

// someID is a well-formed id for routes that take one.
const someID = "6f1c4a50-0000-4000-8000-0000000000aa"
