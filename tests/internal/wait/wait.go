// Package wait holds what the system tests share for waiting on a running
// system.
package wait

import (
	"testing"
	"time"
)

// Until retries check every 200 ms until it returns nil, and fails the
// test with check's last error when limit passes first.
func Until(t testing.TB, limit time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true within %s: %v", what, limit, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
