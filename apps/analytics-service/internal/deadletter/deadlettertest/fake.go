// Package deadlettertest has in-memory stand-ins for the dead-letter
// store and publisher, for unit tests.
package deadlettertest

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/pms-dapr/pms/apps/analytics-service/internal/deadletter"
)

// Store is an in-memory deadletter.Store.
type Store struct {
	mu      sync.Mutex
	Reasons map[string]string // topic/cloudevent id → reason
	Letters []deadletter.Letter
	Audits  []string // "actor action topic n"
}

func NewStore() *Store { return &Store{Reasons: map[string]string{}} }

func (s *Store) NoteDrop(_ context.Context, topic, id, reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Reasons[topic+"/"+id] = reason
	return nil
}

func (s *Store) Park(_ context.Context, l deadletter.Letter) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	l.Reason = deadletter.NoReason
	if r, ok := s.Reasons[l.Topic+"/"+l.CloudEventID]; ok {
		l.Reason = r
	}
	for i, have := range s.Letters {
		if have.Topic == l.Topic && have.CloudEventID == l.CloudEventID {
			if !have.RedrivenAt.IsZero() || !have.DiscardedAt.IsZero() { // back again: pending anew
				s.Letters[i].RedrivenAt, s.Letters[i].Reason, s.Letters[i].DeadLetteredAt = time.Time{}, l.Reason, time.Now()
				s.Letters[i].DiscardedAt, s.Letters[i].DiscardReason = time.Time{}, ""
				s.Letters[i].TraceParent = l.TraceParent
			}
			return nil
		}
	}
	l.ID, l.DeadLetteredAt = uuid.NewString(), time.Now()
	s.Letters = append(s.Letters, l)
	return nil
}

func (s *Store) Pending(_ context.Context, topic string, ids []string) ([]deadletter.Letter, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var out []deadletter.Letter
	for _, l := range s.Letters {
		if l.RedrivenAt.IsZero() && l.DiscardedAt.IsZero() && (topic == "" || l.Topic == topic) && (ids == nil || want[l.ID]) {
			out = append(out, l)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].DeadLetteredAt.Before(out[j].DeadLetteredAt) })
	return out, nil
}

func (s *Store) MarkRedriven(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.Letters {
		if s.Letters[i].ID == id {
			s.Letters[i].RedrivenAt = time.Now()
		}
	}
	return nil
}

// MarkDiscarded discards the pending letters among ids.
func (s *Store) MarkDiscarded(_ context.Context, ids []string, reason string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var done []string
	for i, l := range s.Letters {
		if slices.Contains(ids, l.ID) && l.RedrivenAt.IsZero() && l.DiscardedAt.IsZero() {
			s.Letters[i].DiscardedAt, s.Letters[i].DiscardReason = time.Now(), reason
			done = append(done, l.ID)
		}
	}
	return done, nil
}

func (s *Store) Depth(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	for _, topic := range deadletter.Topics {
		out[topic] = 0
	}
	pending, _ := s.Pending(ctx, "", nil)
	for _, l := range pending {
		out[l.Topic]++
	}
	return out, nil
}

func (s *Store) Audit(_ context.Context, actor, action, topic string, ids []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Audits = append(s.Audits, fmt.Sprintf("%s %s %s %d", actor, action, topic, len(ids)))
	return nil
}

// Publisher records redriven letters, or fails with Err from the
// FailAfter-th call on (0: never).
type Publisher struct {
	mu        sync.Mutex
	Sent      []deadletter.Letter
	Err       error
	FailAfter int
}

func (p *Publisher) Redrive(_ context.Context, l deadletter.Letter) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.Err != nil && len(p.Sent) >= p.FailAfter {
		return p.Err
	}
	p.Sent = append(p.Sent, l)
	return nil
}
