package gateway_test

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/platform/authn"
	"github.com/pms-dapr/pms/platform/authn/authntest"
)

// A key published after the bearer middleware was built (a rotation's
// first step) verifies tokens at once: the gateway builds the middleware
// again instead of waiting for its 10-minute refresh. A kid the JWKS does
// not hold is refused as before.
func TestTokensOfANewlyPublishedKeyAreAcceptedAtOnce(t *testing.T) {
	current, next, stranger := newSigner(t), newSigner(t), newSigner(t)
	var published atomic.Pointer[[]byte]
	set := func(signers ...*authntest.Signer) {
		jwks, err := authn.PublicJWKS(&signers[0].Key.PublicKey)
		if len(signers) == 2 {
			jwks, err = authn.PublicJWKS(&signers[0].Key.PublicKey, &signers[1].Key.PublicKey)
		}
		require.NoError(t, err)
		published.Store(&jwks)
	}
	set(current)
	b := readyBearerFor(t, func() []byte { return *published.Load() })
	sidecar, _ := fakeSidecar(t, http.StatusOK, "application/json", `{}`)
	h := routes(sidecar, b.Middleware)
	get := func(token string) int {
		req := httptest.NewRequest(http.MethodGet, "/patients", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	require.Equal(t, http.StatusOK, get(current.Token(authntest.Claims{Role: "admin"})))

	set(current, next)
	assert.Equal(t, http.StatusOK, get(next.Token(authntest.Claims{Role: "admin"})), "published: accepted without waiting")
	assert.Equal(t, http.StatusOK, get(current.Token(authntest.Claims{Role: "admin"})), "the current key still verifies")
	assert.Equal(t, http.StatusUnauthorized, get(stranger.Token(authntest.Claims{Role: "admin"})), "a kid the JWKS does not hold")
}
