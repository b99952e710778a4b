package identity

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// FailureLog keeps the times of failed logins per key (an account, a client
// address). The PostgreSQL one (identitydb) is shared by every
// auth-service replica; MemoryFailures serves one instance and tests.
type FailureLog interface {
	// Recent returns up to limit failure times of key after since, newest
	// first.
	Recent(ctx context.Context, key string, since time.Time, limit int) ([]time.Time, error)
	// Add records a failure of key at at.
	Add(ctx context.Context, key string, at time.Time) error
	// Clear forgets key's failures.
	Clear(ctx context.Context, key string) error
}

// Throttle counts failed logins per key in a sliding window: a key with
// Limit failures inside Window is refused until the oldest of them leaves
// the window.
type Throttle struct {
	Limit  int
	Window time.Duration
	log    FailureLog
}

// NewThrottle returns a throttle allowing limit failures per window, kept
// in this process's memory.
func NewThrottle(limit int, window time.Duration) *Throttle {
	return NewSharedThrottle(limit, window, NewMemoryFailures())
}

// NewSharedThrottle returns a throttle keeping its failures in log.
func NewSharedThrottle(limit int, window time.Duration, log FailureLog) *Throttle {
	return &Throttle{Limit: limit, Window: window, log: log}
}

// Blocked reports how long key must wait, or 0 if it may try now.
func (t *Throttle) Blocked(ctx context.Context, key string, now time.Time) (time.Duration, error) {
	wait, _, err := t.state(ctx, key, now)
	return wait, err
}

// Failures is how many failures key has inside the window (at most Limit).
func (t *Throttle) Failures(ctx context.Context, key string, now time.Time) (int, error) {
	_, n, err := t.state(ctx, key, now)
	return n, err
}

// state reads key's failures once and says how long it must wait and how
// many failures it has inside the window (at most Limit).
func (t *Throttle) state(ctx context.Context, key string, now time.Time) (time.Duration, int, error) {
	recent, err := t.log.Recent(ctx, key, now.Add(-t.Window), t.Limit)
	if err != nil {
		return 0, 0, fmt.Errorf("identity.throttle: %w", err)
	}
	if len(recent) < t.Limit {
		return 0, len(recent), nil
	}
	return recent[t.Limit-1].Add(t.Window).Sub(now), len(recent), nil
}

// Fail records a failure of key.
func (t *Throttle) Fail(ctx context.Context, key string, now time.Time) error {
	if err := t.log.Add(ctx, key, now); err != nil {
		return fmt.Errorf("identity.throttle: %w", err)
	}
	return nil
}

// Reset forgets key's failures (after a successful login).
func (t *Throttle) Reset(ctx context.Context, key string) error {
	if err := t.log.Clear(ctx, key); err != nil {
		return fmt.Errorf("identity.throttle: %w", err)
	}
	return nil
}

// MemoryFailures is a FailureLog in this process's memory, bounded under a
// spray of distinct keys.
type MemoryFailures struct {
	mu       sync.Mutex
	failures map[string][]time.Time // oldest first
}

// NewMemoryFailures returns an empty MemoryFailures.
func NewMemoryFailures() *MemoryFailures {
	return &MemoryFailures{failures: map[string][]time.Time{}}
}

// maxTrackedKeys bounds memory under a spray of distinct emails or addresses.
const maxTrackedKeys = 10000

// keepFor is how long failures are kept at all (longer than any window).
const keepFor = time.Hour

// Recent implements FailureLog.
func (m *MemoryFailures) Recent(_ context.Context, key string, since time.Time, limit int) ([]time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []time.Time
	all := m.failures[key]
	for i := len(all) - 1; i >= 0 && len(out) < limit; i-- {
		if all[i].After(since) {
			out = append(out, all[i])
		}
	}
	return out, nil
}

// Add implements FailureLog.
func (m *MemoryFailures) Add(_ context.Context, key string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.failures) >= maxTrackedKeys {
		for k, times := range m.failures { // many distinct keys: drop the stale ones
			if len(times) == 0 || at.Sub(times[len(times)-1]) > keepFor {
				delete(m.failures, k)
			}
		}
	}
	kept := m.failures[key]
	for len(kept) > 0 && at.Sub(kept[0]) > keepFor {
		kept = kept[1:]
	}
	m.failures[key] = append(kept, at)
	return nil
}

// Clear implements FailureLog.
func (m *MemoryFailures) Clear(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.failures, key)
	return nil
}
