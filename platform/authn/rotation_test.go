package authn_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/platform/authn"
	"github.com/pms-dapr/pms/platform/authn/authntest"
)

// A token of a key published after the verifier fetched its keys (a
// rotation's swap) verifies at once: the unknown kid makes it fetch the
// JWKS again.
func TestTokensOfANewlyPublishedKeyVerify(t *testing.T) {
	current, err := authntest.NewSigner(issuer, audience)
	require.NoError(t, err)
	next, err := authntest.NewSigner(issuer, audience)
	require.NoError(t, err)
	var published atomic.Pointer[[]byte]
	one, err := authn.PublicJWKS(&current.Key.PublicKey)
	require.NoError(t, err)
	published.Store(&one)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(*published.Load())
	}))
	defer srv.Close()
	v, err := authn.NewVerifier(context.Background(), srv.URL, issuer, audience, srv.Client(), quietLog())
	require.NoError(t, err)
	_, err = v.Verify(context.Background(), current.Token(authntest.Claims{Role: "admin"}))
	require.NoError(t, err)

	both, err := authn.PublicJWKS(&current.Key.PublicKey, &next.Key.PublicKey)
	require.NoError(t, err)
	published.Store(&both)
	// Many requests carry the new key's first tokens at once: they share
	// one fetch, and none is refused by its rate limit.
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := v.Verify(context.Background(), next.Token(authntest.Claims{Role: "admin", Subject: fmt.Sprint("u", i)}))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}
