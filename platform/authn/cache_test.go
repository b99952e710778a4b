package authn

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func signedToken(t *testing.T, key *ecdsa.PrivateKey, exp time.Time) string {
	t.Helper()
	kid, err := KeyID(&key.PublicKey)
	require.NoError(t, err)
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"iss": "iss", "aud": "aud", "sub": "user-1", "role": "clinician",
		"iat": time.Now().Unix(), "exp": exp.Unix(),
	})
	tok.Header["kid"], tok.Header["typ"] = kid, TokenType
	raw, err := tok.SignedString(key)
	require.NoError(t, err)
	return raw
}

// keysGone makes v's key set empty, as if the signing key were removed.
func keysGone(t *testing.T, v *Verifier) {
	empty, err := keyfunc.NewJWKSetJSON([]byte(`{"keys":[]}`))
	require.NoError(t, err)
	v.keys = empty
}

// A verified token is answered from memory until it expires or
// VerifiedCacheTTL passes, whichever comes first; then it is verified again.
func TestVerifiedTokensAreRememberedBriefly(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	jwks, err := PublicJWKS(&key.PublicKey)
	require.NoError(t, err)
	ctx := context.Background()
	fresh := func() *Verifier {
		v, err := NewStaticVerifier(jwks, "iss", "aud")
		require.NoError(t, err)
		return v
	}

	long := signedToken(t, key, time.Now().Add(15*time.Minute))
	v := fresh()
	_, ok := v.Remembered(long)
	assert.False(t, ok, "nothing is remembered before it is verified")
	id, err := v.Verify(ctx, long)
	require.NoError(t, err)
	assert.Equal(t, Identity{Subject: "user-1", Role: "clinician"}, id)
	remembered, ok := v.Remembered(long)
	assert.True(t, ok)
	assert.Equal(t, id, remembered)
	keysGone(t, v)
	again, err := v.Verify(ctx, long)
	require.NoError(t, err, "remembered: the key is not consulted")
	assert.Equal(t, id, again)
	_, err = v.Verify(ctx, long+"x")
	assert.Error(t, err, "another string is verified on its own")

	v.now = func() time.Time { return time.Now().Add(VerifiedCacheTTL + time.Second) }
	_, ok = v.Remembered(long)
	assert.False(t, ok)
	_, err = v.Verify(ctx, long)
	assert.Error(t, err, "after VerifiedCacheTTL the token is verified again, and its key is gone")

	short := signedToken(t, key, time.Now().Add(5*time.Second))
	v = fresh()
	_, err = v.Verify(ctx, short)
	require.NoError(t, err)
	keysGone(t, v)
	v.now = func() time.Time { return time.Now().Add(6 * time.Second) }
	_, err = v.Verify(ctx, short)
	assert.Error(t, err, "not remembered past its own expiry")
}
