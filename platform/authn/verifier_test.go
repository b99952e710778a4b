package authn_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/platform/authn"
	"github.com/pms-dapr/pms/platform/authn/authntest"
)

const (
	issuer   = "http://localhost:4004/auth"
	audience = "pms-api"
)

// jwksServer serves a stand-in JWKS: the signer's ES256 key and, beside
// it, a trusted RSA key.
func jwksServer(t *testing.T, s *authntest.Signer, rsaKey *authntest.RSASigner) *httptest.Server {
	t.Helper()
	var doc struct {
		Keys []any `json:"keys"`
	}
	require.NoError(t, json.Unmarshal(s.JWKS(), &doc))
	doc.Keys = append(doc.Keys, rsaKey.JWK())
	body, err := json.Marshal(doc)
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestVerifierAcceptsOnlyValidAccessTokens(t *testing.T) {
	signer, err := authntest.NewSigner(issuer, audience)
	require.NoError(t, err)
	rsaKey, err := authntest.NewRSASigner()
	require.NoError(t, err)
	srv := jwksServer(t, signer, rsaKey)
	v, err := authn.NewVerifier(t.Context(), srv.URL, issuer, audience, srv.Client(), quietLog())
	require.NoError(t, err)

	id, err := v.Verify(t.Context(), signer.Token(authntest.Claims{Role: "clinician", Email: "c@example.com"}))
	require.NoError(t, err)
	assert.Equal(t, authn.Identity{Subject: "3f0c8a4e-8d7e-4d1a-9a51-6a3c2b1d0e0f", Email: "c@example.com", Role: "clinician"}, id)
	_, err = v.Verify(t.Context(), signer.Token(authntest.Claims{Type: "application/at+jwt"}))
	assert.NoError(t, err, "the media-type form of typ")

	forgeries := signer.Forgeries()
	forgeries["RS256 by a trusted RSA key"] = rsaKey.Token(signer)
	forgeries["unknown role"] = signer.Token(authntest.Claims{Role: "root"})
	for name, tok := range forgeries {
		t.Run(name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), tok)
			require.Error(t, err)
			assert.NotErrorIs(t, err, authn.ErrKeysUnavailable)
		})
	}
}

func TestVerifierWithoutKeysRefusesWith503(t *testing.T) {
	signer, err := authntest.NewSigner(issuer, audience)
	require.NoError(t, err)
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "starting", http.StatusServiceUnavailable)
	}))
	t.Cleanup(down.Close)
	v, err := authn.NewVerifier(t.Context(), down.URL, issuer, audience, down.Client(), quietLog())
	require.NoError(t, err, "a verifier starts before its identity provider")

	_, err = v.Verify(t.Context(), signer.Token(authntest.Claims{}))
	require.ErrorIs(t, err, authn.ErrKeysUnavailable)

	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/patients", nil)
	req.Header.Set("Authorization", "Bearer "+signer.Token(authntest.Claims{}))
	v.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Fatal("let through") })).ServeHTTP(rec, req)
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.NotEmpty(t, rec.Header().Get("Retry-After"))
}

// A service whose first JWKS fetch failed is not ready, and becomes ready
// through its readiness checks alone once the keys can be fetched.
func TestVerifierReadyOnceKeysAreFetched(t *testing.T) {
	signer, err := authntest.NewSigner(issuer, audience)
	require.NoError(t, err)
	var up atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(signer.JWKS())
	}))
	t.Cleanup(srv.Close)
	v, err := authn.NewVerifier(t.Context(), srv.URL, issuer, audience, srv.Client(), quietLog())
	require.NoError(t, err)
	require.ErrorIs(t, v.Ready(t.Context()), authn.ErrKeysUnavailable)

	up.Store(true)
	require.Eventually(t, func() bool { return v.Ready(t.Context()) == nil }, 30*time.Second, 100*time.Millisecond,
		"ready once the JWKS can be fetched, with no token verified")
	_, err = v.Verify(t.Context(), signer.Token(authntest.Claims{}))
	assert.NoError(t, err)
}

func TestStaticVerifierAndKeyIDs(t *testing.T) {
	signer, err := authntest.NewSigner(issuer, audience)
	require.NoError(t, err)
	v, err := authn.NewStaticVerifier(signer.JWKS(), issuer, audience)
	require.NoError(t, err)
	_, err = v.Verify(t.Context(), signer.Token(authntest.Claims{}))
	require.NoError(t, err)
	for name, tok := range signer.Forgeries() {
		_, err := v.Verify(t.Context(), tok)
		assert.Error(t, err, name)
	}

	kid, err := authn.KeyID(&signer.Key.PublicKey)
	require.NoError(t, err)
	again, err := authn.KeyID(&signer.Key.PublicKey)
	require.NoError(t, err)
	assert.Equal(t, kid, again, "a key's id is stable")
	assert.Len(t, kid, 43, "base64url SHA-256")
}

func TestMiddlewarePassesIdentityAndSkipsProbes(t *testing.T) {
	signer, err := authntest.NewSigner(issuer, audience)
	require.NoError(t, err)
	v, err := authn.NewStaticVerifier(signer.JWKS(), issuer, audience)
	require.NoError(t, err)
	var got authn.Identity
	h := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = authn.FromContext(r.Context())
	}))
	for _, tc := range []struct {
		path, token string
		want        int
	}{
		{"/healthz", "", http.StatusOK},
		{"/patients", "", http.StatusUnauthorized},
		{"/patients", signer.Forgeries()["typ JWT"], http.StatusUnauthorized},
		{"/patients", signer.Token(authntest.Claims{Role: "billing"}), http.StatusOK},
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, tc.path, nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		h.ServeHTTP(rec, req)
		assert.Equal(t, tc.want, rec.Code, tc.path)
	}
	assert.Equal(t, "billing", got.Role)
}
