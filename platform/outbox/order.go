package outbox

import (
	"context"
	"errors"
	"sync"
)

// Concurrency bounds how many partition keys are published at once.
const Concurrency = 16

// ErrNotAttempted is the result of a message PublishInOrder did not try to
// publish, because an earlier message with its key failed.
var ErrNotAttempted = errors.New("outbox: not attempted after an earlier failure of its key")

// PublishInOrder publishes msgs (oldest first) and returns each one's
// result: nil when published, ErrNotAttempted, or the failure. Messages
// with different keys are published concurrently (at most Concurrency
// keys at a time); messages with the same key one after another, in
// order, stopping at the key's first failure, so one patient's events are
// never reordered.
func PublishInOrder(ctx context.Context, msgs []Message, publish func(context.Context, Message) error) []error {
	var keys []string
	byKey := map[string][]int{}
	for i, m := range msgs {
		if _, ok := byKey[m.Key]; !ok {
			keys = append(keys, m.Key)
		}
		byKey[m.Key] = append(byKey[m.Key], i)
	}
	results := make([]error, len(msgs))
	for i := range results {
		results[i] = ErrNotAttempted
	}
	sem := make(chan struct{}, Concurrency)
	var wg sync.WaitGroup
	for _, key := range keys {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			for _, i := range byKey[key] {
				if results[i] = publish(ctx, msgs[i]); results[i] != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	return results
}
