package authn

import (
	"testing"
	"time"
)

// ShortenUnknownKeyRefresh sets the rate limit of unknown-kid re-reads for
// the verifiers t creates, and restores it after t.
func ShortenUnknownKeyRefresh(t testing.TB, d time.Duration) {
	old := unknownKeyRefresh
	unknownKeyRefresh = d
	t.Cleanup(func() { unknownKeyRefresh = old })
}
