package outbox_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/pms-dapr/pms/platform/outbox"
)

func TestPublishInOrderKeepsEachKeysOrderAndStopsAtItsFailure(t *testing.T) {
	msgs := []outbox.Message{
		{EventID: "a1", Key: "a"}, {EventID: "b1", Key: "b"}, {EventID: "a2", Key: "a"},
		{EventID: "b2", Key: "b"}, {EventID: "a3", Key: "a"}, {EventID: "c1", Key: "c"},
	}
	boom := errors.New("broker down")
	var mu sync.Mutex
	seen := map[string][]string{}
	results := outbox.PublishInOrder(context.Background(), msgs, func(_ context.Context, m outbox.Message) error {
		mu.Lock()
		defer mu.Unlock()
		seen[m.Key] = append(seen[m.Key], m.EventID)
		if m.EventID == "b1" {
			return boom
		}
		return nil
	})
	assert.Equal(t, []string{"a1", "a2", "a3"}, seen["a"], "one key's messages in order")
	assert.Equal(t, []string{"b1"}, seen["b"], "nothing after a key's failure")
	assert.Equal(t, []error{nil, boom, nil, outbox.ErrNotAttempted, nil, nil}, results)
}

func TestPublishInWavesSendsNoTwoMessagesOfAKeyTogether(t *testing.T) {
	msgs := []outbox.Message{
		{EventID: "a1", Key: "a", Topic: "patient"}, {EventID: "b1", Key: "b", Topic: "patient"},
		{EventID: "a2", Key: "a", Topic: "patient"}, {EventID: "x1", Key: "x", Topic: "billing"},
		{EventID: "b2", Key: "b", Topic: "patient"}, {EventID: "a3", Key: "a", Topic: "patient"},
		{EventID: "c1", Key: "c", Topic: "patient"}, {EventID: "c2", Key: "c", Topic: "patient"},
	}
	boom := errors.New("broker down")
	var requests [][]string
	results := outbox.PublishInWaves(context.Background(), msgs, func(_ context.Context, topic string, ms []outbox.Message) []error {
		var ids []string
		errs := make([]error, len(ms))
		for i, m := range ms {
			assert.Equal(t, topic, m.Topic)
			ids = append(ids, m.EventID)
			if m.EventID == "b1" {
				errs[i] = boom
			}
		}
		requests = append(requests, ids)
		return errs
	})
	assert.Equal(t, [][]string{
		{"a1", "b1", "c1"}, {"x1"}, // wave 1, one request per topic
		{"a2", "c2"}, // wave 2: b stopped at its failure
		{"a3"},
	}, requests)
	assert.Equal(t, []error{nil, boom, nil, nil, outbox.ErrNotAttempted, nil, nil, nil}, results)

	short := outbox.PublishInWaves(context.Background(), msgs[:2], func(context.Context, string, []outbox.Message) []error { return nil })
	assert.Error(t, short[0], "a publisher that answers for nothing publishes nothing")
}

// A wave whose payloads pass MaxRequestBytes goes out as several requests,
// each within it (a message larger than it alone), in the wave's order.
func TestPublishInWavesBoundsARequestsBytes(t *testing.T) {
	third := strings.Repeat("x", outbox.MaxRequestBytes/3)
	msgs := []outbox.Message{
		{EventID: "a", Key: "a", Topic: "patient", Payload: third}, {EventID: "b", Key: "b", Topic: "patient", Payload: third},
		{EventID: "c", Key: "c", Topic: "patient", Payload: third}, {EventID: "d", Key: "d", Topic: "patient", Payload: third},
		{EventID: "e", Key: "e", Topic: "patient", Payload: third + third + third + third},
		{EventID: "f", Key: "f", Topic: "patient", Payload: "{}"},
	}
	var requests [][]string
	results := outbox.PublishInWaves(context.Background(), msgs, func(_ context.Context, _ string, ms []outbox.Message) []error {
		var ids []string
		size := 0
		for _, m := range ms {
			ids = append(ids, m.EventID)
			size += len(m.Payload)
		}
		if len(ms) > 1 {
			assert.LessOrEqual(t, size, outbox.MaxRequestBytes)
		}
		requests = append(requests, ids)
		return make([]error, len(ms))
	})
	assert.Equal(t, [][]string{{"a", "b", "c"}, {"d"}, {"e"}, {"f"}}, requests)
	assert.Equal(t, make([]error, len(msgs)), results)
}
