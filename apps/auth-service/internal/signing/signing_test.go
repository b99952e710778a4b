package signing_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/apps/auth-service/internal/identity"
	"github.com/pms-dapr/pms/apps/auth-service/internal/signing"
	"github.com/pms-dapr/pms/platform/authn"
	"github.com/pms-dapr/pms/platform/authn/authntest"
)

func newKey(t *testing.T) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return k
}

func TestIssuedTokensCarryTheAgreedClaimsAndVerify(t *testing.T) {
	keys, err := signing.New(newKey(t), newKey(t), "http://localhost:4004/auth", "pms-api")
	require.NoError(t, err)
	u := identity.User{ID: "5c3f1a2e-0000-4000-8000-000000000001", Email: "c@example.com", Role: "clinician"}
	now := time.Now()
	tok, ttl, err := keys.Sign(u, now)
	require.NoError(t, err)
	assert.Equal(t, 15*time.Minute, ttl)

	parts := strings.Split(tok, ".")
	require.Len(t, parts, 3)
	var hdr, claims map[string]any
	decode := func(s string, v any) {
		b, err := base64.RawURLEncoding.DecodeString(s)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, v))
	}
	decode(parts[0], &hdr)
	decode(parts[1], &claims)
	assert.Equal(t, map[string]any{"alg": "ES256", "kid": keys.KeyID(), "typ": "at+jwt"}, hdr)
	for _, c := range []string{"iss", "aud", "sub", "email", "role", "iat", "nbf", "exp", "jti"} {
		assert.Contains(t, claims, c)
	}
	assert.InDelta(t, now.Add(15*time.Minute).Unix(), claims["exp"], 2)

	id, err := keys.Verify(tok)
	require.NoError(t, err)
	assert.Equal(t, authn.Identity{Subject: u.ID, Email: u.Email, Role: "clinician"}, id)
	var jwks struct{ Keys []map[string]any }
	require.NoError(t, json.Unmarshal(keys.JWKS(), &jwks))
	require.Len(t, jwks.Keys, 2, "current and next key are published")
	assert.Equal(t, keys.KeyID(), jwks.Keys[0]["kid"])
	assert.Equal(t, "ES256", jwks.Keys[0]["alg"])
	assert.NotContains(t, jwks.Keys[0], "d", "no private part")
}

func TestVerifyRejectsForgeries(t *testing.T) {
	k := newKey(t)
	keys, err := signing.New(k, nil, "http://localhost:4004/auth", "pms-api")
	require.NoError(t, err)
	forger, err := authntest.FromKey(k, "http://localhost:4004/auth", "pms-api")
	require.NoError(t, err)
	require.Equal(t, keys.KeyID(), forger.KID, "the test signer names keys as auth-service does")
	_, err = keys.Verify(forger.Token(authntest.Claims{}))
	require.NoError(t, err)
	for name, tok := range forger.Forgeries() {
		_, err := keys.Verify(tok)
		assert.Error(t, err, name)
	}
}

func TestDevKeyIsCreatedOnceAndReused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "dev.pem")
	k1, created, err := signing.LoadOrCreateDevKey(path)
	require.NoError(t, err)
	assert.True(t, created)
	k2, created, err := signing.LoadOrCreateDevKey(path)
	require.NoError(t, err)
	assert.False(t, created)
	assert.True(t, k1.Equal(k2))
	_, err = signing.LoadKey(filepath.Join(t.TempDir(), "missing.pem"))
	assert.Error(t, err)
}
