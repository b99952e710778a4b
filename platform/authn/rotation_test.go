package authn_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
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

// A token naming a kid the key set does not hold is refused at once, even
// while the JWKS is slow to answer and its re-reads are rate limited:
// requests never wait for the re-read, which runs in the background, and
// tokens of the known key keep verifying.
func TestUnknownKeysAreRefusedAtOnce(t *testing.T) {
	current, err := authntest.NewSigner(issuer, audience)
	require.NoError(t, err)
	stranger, err := authntest.NewSigner(issuer, audience)
	require.NoError(t, err)
	jwks, err := authn.PublicJWKS(&current.Key.PublicKey)
	require.NoError(t, err)
	var fetches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if fetches.Add(1) > 1 {
			time.Sleep(2 * time.Second) // every re-read is slow
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	}))
	defer srv.Close()
	v, err := authn.NewVerifier(context.Background(), srv.URL, issuer, audience, srv.Client(), quietLog())
	require.NoError(t, err)
	good := current.Token(authntest.Claims{Role: "admin"})
	_, err = v.Verify(context.Background(), good)
	require.NoError(t, err)

	var took []time.Duration
	for i := range 20 {
		start := time.Now()
		_, err := v.Verify(context.Background(), stranger.Token(authntest.Claims{Role: "admin", Subject: fmt.Sprint("u", i)}))
		took = append(took, time.Since(start))
		require.Error(t, err)
		_, err = v.Verify(context.Background(), current.Token(authntest.Claims{Role: "clinician", Subject: fmt.Sprint("c", i)}))
		require.NoError(t, err, "a known key keeps verifying")
		time.Sleep(10 * time.Millisecond)
	}
	// Not a speed target (the e2e hostile test measures the latency through
	// the gateway): no refusal waited for a 2 s re-read.
	assert.Less(t, slices.Max(took), time.Second, "refusing an unknown kid never waits for the JWKS (all: %v)", took)
	assert.LessOrEqual(t, fetches.Load(), int32(2), "re-reads of the JWKS are rate limited")
}

// A re-read of the JWKS that fails (here the first after a new key is
// published) does not keep the verifier from learning the key: the next
// re-read waits for the rate limit and still has time to fetch, though
// every fetch is slow and tokens of the new key keep arriving, each asking
// for a re-read as soon as the last one ended.
func TestAFailedReReadDoesNotLockOutANewKey(t *testing.T) {
	authn.ShortenUnknownKeyRefresh(t, 300*time.Millisecond)
	current, err := authntest.NewSigner(issuer, audience)
	require.NoError(t, err)
	next, err := authntest.NewSigner(issuer, audience)
	require.NoError(t, err)
	one, err := authn.PublicJWKS(&current.Key.PublicKey)
	require.NoError(t, err)
	both, err := authn.PublicJWKS(&current.Key.PublicKey, &next.Key.PublicKey)
	require.NoError(t, err)
	var fetches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n := fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		switch {
		case n == 1:
			_, _ = w.Write(one)
		case n == 2:
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
		default:
			time.Sleep(150 * time.Millisecond)
			_, _ = w.Write(both)
		}
	}))
	defer srv.Close()
	v, err := authn.NewVerifier(context.Background(), srv.URL, issuer, audience, srv.Client(), quietLog())
	require.NoError(t, err)
	_, err = v.Verify(context.Background(), current.Token(authntest.Claims{Role: "admin"}))
	require.NoError(t, err)

	deadline := time.Now().Add(5 * time.Second)
	for i := 0; ; i++ {
		_, err = v.Verify(context.Background(), next.Token(authntest.Claims{Role: "admin", Subject: fmt.Sprint("u", i)}))
		if err == nil {
			break
		}
		require.True(t, time.Now().Before(deadline), "the new key was not learnt within 5 s (%d fetches): %v", fetches.Load(), err)
		time.Sleep(5 * time.Millisecond)
	}
	assert.GreaterOrEqual(t, fetches.Load(), int32(3), "learnt by a re-read after the failed one")
}
