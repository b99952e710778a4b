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

func (s *fakeStore) PublishPending(ctx context.Context, limit int, publish func(context.Context, []Message) []error) (int, error) {
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

// publishers records how the relay published.
type publishers struct {
	mu      sync.Mutex
	single  []string
	batches [][]string
}

func (p *publishers) Publish(_ context.Context, m Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.single = append(p.single, m.EventID)
	return nil
}

type batchPublishers struct{ *publishers }

func (p batchPublishers) PublishBatch(_ context.Context, _ string, msgs []Message) []error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var ids []string
	for _, m := range msgs {
		ids = append(ids, m.EventID)
	}
	p.batches = append(p.batches, ids)
	return make([]error, len(msgs))
}

// The relay publishes in bulk when the publisher can, one by one when not.
func TestRelayPrefersBulkPublishing(t *testing.T) {
	msgs := []Message{{EventID: "a1", Key: "a"}, {EventID: "b1", Key: "b"}, {EventID: "a2", Key: "a"}}
	one := &publishers{}
	r := &Relay{Publisher: one}
	assert.Equal(t, []error{nil, nil, nil}, r.publish(context.Background(), msgs))
	assert.ElementsMatch(t, []string{"a1", "b1", "a2"}, one.single)
	assert.Empty(t, one.batches)

	bulk := batchPublishers{&publishers{}}
	r = &Relay{Publisher: bulk}
	assert.Equal(t, []error{nil, nil, nil}, r.publish(context.Background(), msgs))
	assert.Equal(t, [][]string{{"a1", "b1"}, {"a2"}}, bulk.batches)
	assert.Empty(t, bulk.single)
}
