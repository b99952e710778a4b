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
	keys, byKey, results := byKeyOf(msgs)
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

// InOrder adapts a one-message publish to the batch form a Store takes,
// through PublishInOrder.
func InOrder(publish func(context.Context, Message) error) func(context.Context, []Message) []error {
	return func(ctx context.Context, msgs []Message) []error { return PublishInOrder(ctx, msgs, publish) }
}

// PublishInWaves publishes msgs (oldest first) in bulk and returns each
// one's result, as PublishInOrder does. Wave n holds the n-th message of
// every key, so no request carries two messages of one key (Dapr does not
// promise order inside one bulk request), and a wave is sent only once the
// one before it was accepted: one key's messages stay in order. Each wave
// is one request per topic, or more when its payloads pass
// MaxRequestBytes. A key stops at its first failure; its later
// messages are ErrNotAttempted.
func PublishInWaves(ctx context.Context, msgs []Message, publish func(ctx context.Context, topic string, msgs []Message) []error) []error {
	keys, byKey, results := byKeyOf(msgs)
	failed := map[string]bool{}
	for wave := 0; ; wave++ {
		var topics []string
		byTopic := map[string][]int{}
		for _, key := range keys {
			if ix := byKey[key]; wave < len(ix) && !failed[key] {
				t := msgs[ix[wave]].Topic
				if _, ok := byTopic[t]; !ok {
					topics = append(topics, t)
				}
				byTopic[t] = append(byTopic[t], ix[wave])
			}
		}
		if len(topics) == 0 {
			return results
		}
		for _, topic := range topics {
			for _, ix := range bySize(msgs, byTopic[topic]) {
				batch := make([]Message, len(ix))
				for j, i := range ix {
					batch[j] = msgs[i]
				}
				errs := publish(ctx, topic, batch)
				for j, i := range ix {
					var err error
					if j < len(errs) {
						err = errs[j]
					} else {
						err = errors.New("outbox: the publisher gave no result for this message")
					}
					results[i] = err
					if err != nil {
						failed[msgs[i].Key] = true
					}
				}
			}
		}
	}
}

// MaxRequestBytes bounds the payloads of one bulk request, far below a
// sidecar's 4 MB default limit of a request, whatever the messages'
// sizes (a batch of events is tens of kilobytes).
const MaxRequestBytes = 1 << 20

// bySize splits ix, indexes of msgs, into runs whose payloads add up to
// at most MaxRequestBytes (a larger message alone). Splitting a wave does
// not reorder a key: a wave holds one message per key.
func bySize(msgs []Message, ix []int) [][]int {
	var runs [][]int
	start, size := 0, 0
	for j, i := range ix {
		n := len(msgs[i].Payload)
		if j > start && size+n > MaxRequestBytes {
			runs = append(runs, ix[start:j])
			start, size = j, 0
		}
		size += n
	}
	return append(runs, ix[start:])
}

// byKeyOf groups msgs' indexes by partition key (keys in order of first
// appearance, each key's indexes oldest first) and returns results that
// start as ErrNotAttempted.
func byKeyOf(msgs []Message) (keys []string, byKey map[string][]int, results []error) {
	byKey = map[string][]int{}
	for i, m := range msgs {
		if _, ok := byKey[m.Key]; !ok {
			keys = append(keys, m.Key)
		}
		byKey[m.Key] = append(byKey[m.Key], i)
	}
	results = make([]error, len(msgs))
	for i := range results {
		results[i] = ErrNotAttempted
	}
	return keys, byKey, results
}
