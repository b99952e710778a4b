package gateway_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dapr/components-contrib/middleware"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/apps/api-gateway/internal/gateway"
	"github.com/pms-dapr/pms/platform/authn/authntest"
)

func TestEveryForgedTokenIsRejectedBeforeTheSidecar(t *testing.T) {
	signer := newSigner(t)
	bearer := readyBearer(t, signer)
	sidecar, got := fakeSidecar(t, http.StatusOK, "application/json", `{}`)
	h := routes(sidecar, bearer.Middleware)
	tokens := signer.Forgeries()
	tokens["none"] = ""
	for name, tok := range tokens {
		for _, route := range [][2]string{{"GET", "/patients"}, {"POST", "/patients"}, {"GET", "/analytics/summary"},
			{"GET", "/auth/users"}, {"POST", "/auth/logout"}, {"DELETE", "/patients/" + someID},
			{"GET", "/admin/dead-letters"}, {"POST", "/admin/dead-letters/redrive"}, {"POST", "/admin/dead-letters/discard"}} {
			req := httptest.NewRequest(route[0], route[1], strings.NewReader("{}"))
			if tok != "" {
				req.Header.Set("Authorization", "Bearer "+tok)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			assert.Equal(t, http.StatusUnauthorized, rec.Code, "%s token on %s %s", name, route[0], route[1])
			assert.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
		}
	}
	assert.Empty(t, got.path, "no forged request reached the sidecar")
}

func TestRolesDecide(t *testing.T) {
	signer := newSigner(t)
	bearer := readyBearer(t, signer)
	sidecar, _ := fakeSidecar(t, http.StatusOK, "application/json", `{}`)
	h := routes(sidecar, bearer.Middleware)
	cases := []struct {
		role, method, path string
		want               int
	}{
		{"clinician", "POST", "/patients", 200},
		{"clinician", "GET", "/patients/" + someID, 200},
		{"clinician", "PUT", "/patients/" + someID, 200},
		{"clinician", "DELETE", "/patients/" + someID, 403},
		{"clinician", "GET", "/analytics/summary", 403},
		{"clinician", "GET", "/auth/users", 403},
		{"clinician", "GET", "/patients/" + someID + "/audit", 403},
		{"admin", "GET", "/patients/" + someID + "/audit", 200},
		{"clinician", "POST", "/auth/logout", 200},
		{"billing", "GET", "/patients", 200},
		{"billing", "POST", "/patients", 403},
		{"billing", "GET", "/analytics/summary", 403},
		{"admin", "DELETE", "/patients/" + someID, 200},
		{"admin", "GET", "/analytics/summary", 200},
		{"admin", "PATCH", "/auth/users/" + someID, 200},
		{"clinician", "GET", "/admin/dead-letters", 403},
		{"billing", "POST", "/admin/dead-letters/redrive", 403},
		{"admin", "GET", "/admin/dead-letters", 200},
		{"admin", "POST", "/admin/dead-letters/redrive", 200},
		{"billing", "POST", "/admin/dead-letters/discard", 403},
		{"admin", "POST", "/admin/dead-letters/discard", 200},
		{"nurse", "GET", "/patients", 401}, // unknown role: the token is not one we issue
	}
	for _, tc := range cases {
		req := httptest.NewRequest(tc.method, tc.path, strings.NewReader("{}"))
		req.Header.Set("Authorization", "Bearer "+signer.Token(authntest.Claims{Role: tc.role}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		assert.Equal(t, tc.want, rec.Code, "%s %s %s", tc.role, tc.method, tc.path)
	}
}

func TestUnreadyBearerRefusesWith503(t *testing.T) {
	md := mustMetadata(t)
	b, err := gateway.NewBearer(t.Context(), md, discard()) // never run: the JWKS is not loaded
	require.NoError(t, err)
	sidecar, got := fakeSidecar(t, http.StatusOK, "application/json", `{}`)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/patients", nil)
	req.Header.Set("Authorization", "Bearer "+newSigner(t).Token(authntest.Claims{}))
	routes(sidecar, b.Middleware).ServeHTTP(rec, req)
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.NotEmpty(t, rec.Header().Get("Retry-After"))
	assert.Empty(t, got.path)
	assert.Error(t, b.Ready(req.Context()))
}

// The role policy trusts only an identity Bearer verified: behind a gate
// that lets everything through, even a valid-looking token gets nowhere.
func TestRolePolicyFailsClosedWithoutAVerifiedIdentity(t *testing.T) {
	sidecar, got := fakeSidecar(t, http.StatusOK, "application/json", `{}`)
	pass := func(h http.Handler) http.Handler { return h }
	req := httptest.NewRequest(http.MethodGet, "/patients", nil)
	req.Header.Set("Authorization", "Bearer "+newSigner(t).Token(authntest.Claims{Role: "admin"}))
	rec := httptest.NewRecorder()
	routes(sidecar, pass).ServeHTTP(rec, req)
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	assert.Empty(t, got.path)
}

func TestBearerNeedsJWKSIssuerAndAudience(t *testing.T) {
	md := mustMetadata(t)
	delete(md.Properties, "jwksURL")
	_, err := gateway.NewBearer(t.Context(), md, discard())
	assert.ErrorContains(t, err, "jwksURL")
}

func mustMetadata(t *testing.T) middleware.Metadata {
	t.Helper()
	md, err := gateway.LoadBearerMetadata("../../../../dapr/middleware/jwt-bearer.yaml")
	require.NoError(t, err, "the project's manifest loads")
	assert.Equal(t, "http://localhost:4004/auth", md.Properties["issuer"])
	assert.Equal(t, "pms-api", md.Properties["audience"])
	return md
}

func TestSecurityHeadersBodyLimitAndCORS(t *testing.T) {
	sidecar, _ := fakeSidecar(t, http.StatusOK, "application/json", `{}`)
	pass := func(h http.Handler) http.Handler { return h }

	rec := httptest.NewRecorder()
	routes(sidecar, pass).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
	assert.Equal(t, "DENY", rec.Header().Get("X-Frame-Options"))
	assert.NotEmpty(t, rec.Header().Get("Content-Security-Policy"))

	big := strings.NewReader(`{"password":"` + strings.Repeat("x", gateway.MaxBodyBytes) + `"}`)
	rec = httptest.NewRecorder()
	routes(sidecar, pass).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/auth/login", big))
	assert.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)

	preflight := func(h http.Handler, origin string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodOptions, "/patients", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	assert.Empty(t, preflight(routes(sidecar, pass), "https://evil.example").Header().Get("Access-Control-Allow-Origin"), "closed by default")
	open := routes(sidecar, pass, "https://app.example")
	assert.Equal(t, "https://app.example", preflight(open, "https://app.example").Header().Get("Access-Control-Allow-Origin"))
	assert.Empty(t, preflight(open, "https://evil.example").Header().Get("Access-Control-Allow-Origin"))
}
