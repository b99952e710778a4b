package outbox

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeStore counts rounds and fails them while failing is set.
type fakeStore struct {
	mu      sync.Mutex
	rounds  []time.Time
	failing bool
}

func (s *fakeStore) PublishPending(ctx context.Context, limit int, publish func(context.Context, Message) error) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rounds = append(s.rounds, time.Now())
	if s.failing {
		return 0, errors.New("broker down")
	}
	return 1, nil
}

func (s *fakeStore) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.rounds)
}

func startRelay(t *testing.T, store Store, wake chan struct{}) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	r := &Relay{Store: store, Log: slog.New(slog.DiscardHandler), Wake: wake, Interval: time.Hour, MaxWait: time.Hour}
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
}

// A wake signal starts a round at once; without one the relay waits for
// its (here hour-long) poll interval.
func TestRelayPublishesWhenWoken(t *testing.T) {
	store := &fakeStore{}
	wake := make(chan struct{}, 1)
	startRelay(t, store, wake)
	time.Sleep(50 * time.Millisecond)
	assert.Zero(t, store.count(), "no round before a signal or the interval")
	for i := 1; i <= 3; i++ {
		wake <- struct{}{}
		assert.Eventually(t, func() bool { return store.count() == i }, time.Second, time.Millisecond, "round %d", i)
	}
}

// While publishing fails the relay backs off and ignores wake signals, so
// a broker outage is not hit once per registration.
func TestRelayIgnoresWakeWhileBackingOff(t *testing.T) {
	store := &fakeStore{failing: true}
	wake := make(chan struct{}, 1)
	startRelay(t, store, wake)
	wake <- struct{}{}
	require.Eventually(t, func() bool { return store.count() == 1 }, time.Second, time.Millisecond)
	for range 5 {
		select {
		case wake <- struct{}{}:
		default:
		}
		time.Sleep(20 * time.Millisecond)
	}
	assert.Equal(t, 1, store.count(), "woken during the back-off")
}
