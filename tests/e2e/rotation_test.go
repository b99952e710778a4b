package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/tests/internal/wait"
)

// writeSigningKey writes a new EC P-256 key as PKCS#8 PEM, as the
// runbook's openssl command does.
func writeSigningKey(t *testing.T, path string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(k)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600))
}

// tokenKID is the kid in a token's header.
func tokenKID(t *testing.T, tok string) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	require.NoError(t, err)
	var h struct{ Kid string }
	require.NoError(t, json.Unmarshal(raw, &h))
	return h.Kid
}

func publishedKIDs(t *testing.T) []string {
	t.Helper()
	r := doAs(t, "", http.MethodGet, gateway+"/auth/.well-known/jwks.json", nil)
	require.Equal(t, http.StatusOK, r.status)
	var set struct{ Keys []struct{ Kid string } }
	require.NoError(t, json.Unmarshal(r.body, &set))
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	return kids
}

// The signing-key rotation of docs/runbooks/rotate-signing-keys.md, walked
// while clients keep reading through the gateway with every token issued
// so far: before the rotation, after publishing the next key, after the
// swap, and after the old key is dropped. Not one request fails.
func TestSigningKeyRotationFailsNoRequest(t *testing.T) {
	ctx := context.Background()
	const auth = "auth-service"
	devKey := filepath.Join(sys.Root(), "apps", "auth-service", ".dapr", "dev-signing-key.pem")
	nextKey := filepath.Join(t.TempDir(), "next-signing.pem")
	writeSigningKey(t, nextKey)
	step := func(name, signing, next string) {
		t.Helper()
		require.NoError(t, sys.SetAppEnv(auth, "AUTH_SIGNING_KEY_FILE", signing))
		require.NoError(t, sys.SetAppEnv(auth, "AUTH_NEXT_SIGNING_KEY_FILE", next))
		rctx, cancel := context.WithTimeout(ctx, 90*time.Second)
		defer cancel()
		require.NoError(t, sys.RestartApp(rctx, auth), name)
	}
	// Whatever happens, auth-service ends as it started: signing with the
	// development key alone (every other test's tokens are signed with it).
	t.Cleanup(func() { step("restore", "", "") })

	p, _ := createPatient(t, newPatient("Rotation Reader"))
	// A sign-in right after auth-service's restart may find the gateway's
	// route to it not yet re-established: it is retried, as a client would.
	newToken := func() string {
		var tok string
		wait.Until(t, 30*time.Second, "a sign-in", func() error {
			s, status, err := login(sys.AdminEmail, sys.AdminPassword)
			if err != nil || status != http.StatusOK {
				return fmt.Errorf("status %d, %v", status, err)
			}
			tok = s.AccessToken
			return nil
		})
		return tok
	}

	// Clients: two readers, each cycling through every token still valid.
	var (
		mu       sync.Mutex
		tokens   = []string{newToken()}
		requests atomic.Int64
		failures []string
		stop     = make(chan struct{})
		wg       sync.WaitGroup
	)
	oldKID := tokenKID(t, tokens[0])
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				tok := tokens[i%len(tokens)]
				mu.Unlock()
				req, _ := http.NewRequest(http.MethodGet, gateway+"/patients/"+p.ID, nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := httpClient.Do(req)
				requests.Add(1)
				if err != nil {
					mu.Lock()
					failures = append(failures, err.Error())
					mu.Unlock()
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("%s: %d with the token of kid %s: %s",
						time.Now().Format("15:04:05.000"), resp.StatusCode, tokenKID(t, tok), body))
					mu.Unlock()
				}
			}
		}()
	}
	add := func(tok string) {
		mu.Lock()
		tokens = append(tokens, tok)
		mu.Unlock()
	}

	// 1. Publish the next key; tokens are still signed with the current one.
	t.Logf("%s: publish the next key", time.Now().Format("15:04:05.000"))
	step("publish the next key", devKey, nextKey)
	assert.Len(t, publishedKIDs(t), 2)
	during := newToken()
	assert.Equal(t, oldKID, tokenKID(t, during), "still signed with the current key")
	add(during)
	// 2. Wait until every verifier may fetch the JWKS again: each looks an
	// unknown kid up at most once per 10 s (the runbook waits for their
	// 10-minute refresh instead, which needs no lookup at all).
	time.Sleep(11 * time.Second)

	// 3. Swap: the next key signs; the old one is still published.
	t.Logf("%s: swap", time.Now().Format("15:04:05.000"))
	step("swap", nextKey, devKey)
	after := newToken()
	newKID := tokenKID(t, after)
	assert.NotEqual(t, oldKID, newKID)
	assert.ElementsMatch(t, []string{oldKID, newKID}, publishedKIDs(t))
	add(after)
	time.Sleep(2 * time.Second)

	// 4. Once the old key's tokens have expired (here: the clients drop
	// them), the old key is no longer published.
	mu.Lock()
	tokens = []string{after}
	mu.Unlock()
	t.Logf("%s: drop the old key", time.Now().Format("15:04:05.000"))
	step("drop the old key", nextKey, "")
	assert.Equal(t, []string{newKID}, publishedKIDs(t))
	add(newToken())
	time.Sleep(2 * time.Second)

	close(stop)
	wg.Wait()
	t.Logf("%d requests through the rotation", requests.Load())
	assert.Greater(t, requests.Load(), int64(100))
	if len(failures) > 5 {
		t.Errorf("%d requests failed during the rotation; the first: %q, the last: %q", len(failures), failures[:3], failures[len(failures)-1])
	} else {
		assert.Empty(t, failures, "requests failed during the rotation")
	}
}
