package identity

import (
	"sync"
	"time"
)

// Throttle counts failed logins per key (an account, a client address) in a
// sliding window. A key with Limit failures inside Window is refused until
// the oldest of them leaves the window. It lives in memory: one
// auth-service instance throttles what it sees.
type Throttle struct {
	Limit  int
	Window time.Duration

	mu       sync.Mutex
	failures map[string][]time.Time
}

// NewThrottle returns a throttle allowing limit failures per window.
func NewThrottle(limit int, window time.Duration) *Throttle {
	return &Throttle{Limit: limit, Window: window, failures: map[string][]time.Time{}}
}

// Blocked reports how long key must wait, or 0 if it may try now.
func (t *Throttle) Blocked(key string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	recent := t.prune(key, now)
	if len(recent) < t.Limit {
		return 0
	}
	return recent[len(recent)-t.Limit].Add(t.Window).Sub(now)
}

// Failures is how many failures key has inside the window.
func (t *Throttle) Failures(key string, now time.Time) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.prune(key, now))
}

// Fail records a failure of key.
func (t *Throttle) Fail(key string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.failures) >= maxTrackedKeys {
		t.sweep(now) // many distinct keys: drop the expired ones
	}
	t.failures[key] = append(t.prune(key, now), now)
}

// maxTrackedKeys bounds memory under a spray of distinct emails or addresses.
const maxTrackedKeys = 10000

func (t *Throttle) sweep(now time.Time) {
	for k := range t.failures {
		t.prune(k, now)
	}
}

// Reset forgets key's failures (after a successful login).
func (t *Throttle) Reset(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.failures, key)
}

// prune drops failures older than the window; callers hold mu.
func (t *Throttle) prune(key string, now time.Time) []time.Time {
	all := t.failures[key]
	i := 0
	for i < len(all) && now.Sub(all[i]) >= t.Window {
		i++
	}
	recent := all[i:]
	if len(recent) == 0 {
		delete(t.failures, key)
		return nil
	}
	t.failures[key] = recent
	return recent
}
