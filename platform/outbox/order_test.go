package outbox_test

import (
	"context"
	"errors"
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
