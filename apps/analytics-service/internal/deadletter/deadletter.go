// Package deadletter keeps the events a subscriber could not process, so an
// operator can see them and, once the cause is fixed, send them back.
//
// A subscriber that gives up on an event records why (NoteDrop) and answers
// DROP; its sidecar publishes the event to the topic's dead-letter topic
// ("patient-deadletter", "billing-deadletter"). analytics-service
// subscribes to those and parks each event once (Park), with the reason
// when one was recorded. Parked events are listed without their data
// (ids, type, times, reason) and redriven to their original topic with
// their original id and partition key: consumers are idempotent on event
// id, so a redriven event counts once.
package deadletter

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/pms-dapr/pms/platform/validation"
)

// Topics maps each dead-letter topic to the topic its events came from.
var Topics = map[string]string{
	"patient-deadletter": "patient",
	"billing-deadletter": "billing",
}

// NoReason is the reason of an event no subscriber explained (another
// subscriber's sidecar dead-lettered it, or a sidecar did on its own).
const NoReason = "no reason recorded (dropped by another subscriber or by its sidecar)"

// maxReason bounds a stored reason.
const maxReason = 500

// Letter is one parked event.
type Letter struct {
	ID             string // the parking's own id (UUID)
	Topic          string // the original topic
	CloudEventID   string
	EventID        string // from the data, when it could be read
	Type           string // the CloudEvent type
	OccurredAt     time.Time
	PartitionKey   string
	Reason         string
	Data           []byte // the CloudEvent's data, as published; never listed
	DeadLetteredAt time.Time
	RedrivenAt     time.Time
	DiscardedAt    time.Time // set when an operator discarded it
	DiscardReason  string
	TraceParent    string // the W3C traceparent the event carried (its trace)
}

// Selection names what a redrive sends: the listed ids, or (All) every
// pending letter, optionally of one Topic.
type Selection struct {
	IDs   []string
	All   bool
	Topic string
}

// Store keeps letters, drop reasons and the operators' audit trail.
type Store interface {
	NoteDrop(ctx context.Context, topic, cloudEventID, reason string) error
	// Park stores l once per (topic, cloud event id), taking the reason
	// noted for it, if any, else NoReason.
	Park(ctx context.Context, l Letter) error
	Pending(ctx context.Context, topic string, ids []string) ([]Letter, error)
	MarkRedriven(ctx context.Context, id string) error
	// MarkDiscarded takes the pending letters among ids off the pending
	// list for good, and returns the ids it took.
	MarkDiscarded(ctx context.Context, ids []string, reason string) ([]string, error)
	Depth(ctx context.Context) (map[string]int, error)
	Audit(ctx context.Context, actor, action, topic string, ids []string) error
}

// Publisher sends a letter back to its original topic.
type Publisher interface {
	Redrive(ctx context.Context, l Letter) error
}

// Service is what the operator's API and the subscriptions use.
type Service struct {
	Store     Store
	Publisher Publisher
}

// NoteDrop records why a subscriber gave up on an event. Quoted values are
// taken out of the reason: a malformed event may hold anything, and the
// list of dead letters must never show PHI.
func (s *Service) NoteDrop(ctx context.Context, topic, cloudEventID, reason string) error {
	reason = quoted.ReplaceAllString(strings.ToValidUTF8(reason, "?"), `"…"`)
	if len(reason) > maxReason {
		reason = strings.ToValidUTF8(reason[:maxReason], "")
	}
	return s.Store.NoteDrop(ctx, topic, cloudEventID, reason)
}

// quoted matches a double-quoted value, escapes included.
var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// Park stores a dead-lettered event arriving on deadLetterTopic.
func (s *Service) Park(ctx context.Context, deadLetterTopic string, l Letter) error {
	topic, ok := Topics[deadLetterTopic]
	if !ok {
		return fmt.Errorf("deadletter.park: %q is not a dead-letter topic", deadLetterTopic)
	}
	l.Topic = topic
	return s.Store.Park(ctx, l)
}

// List returns the pending letters (of topic, or of every topic), oldest
// first, and records who looked.
func (s *Service) List(ctx context.Context, actor, topic string) ([]Letter, error) {
	if err := checkTopic(topic); err != nil {
		return nil, err
	}
	letters, err := s.Store.Pending(ctx, topic, nil)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(letters))
	for i, l := range letters {
		ids[i] = l.ID
	}
	if err := s.Store.Audit(ctx, actor, "dead-letters.list", topic, ids); err != nil {
		return nil, err
	}
	return letters, nil
}

// Redrive publishes the selected pending letters to their original topics,
// one at a time, marking each redriven once its sidecar accepted it. It
// returns those sent; on an error, those sent before it (the rest stay
// pending: a second redrive sends them, and a letter sent twice still
// counts once). The audit row names every letter sent.
func (s *Service) Redrive(ctx context.Context, actor string, sel Selection) ([]Letter, error) {
	if err := checkTopic(sel.Topic); err != nil {
		return nil, err
	}
	switch {
	case sel.All && len(sel.IDs) > 0:
		return nil, invalid("ids", "give ids or all, not both")
	case !sel.All && len(sel.IDs) == 0:
		return nil, invalid("ids", "is required (or all: true)")
	case len(sel.IDs) > 1000:
		return nil, invalid("ids", "at most 1000 per request")
	}
	for i, id := range sel.IDs {
		if _, err := uuid.Parse(id); err != nil || len(id) != 36 {
			return nil, invalid(fmt.Sprintf("ids[%d]", i), "must be a UUID")
		}
	}
	letters, err := s.Store.Pending(ctx, sel.Topic, sel.IDs)
	if err != nil {
		return nil, err
	}
	var sent []Letter
	var failed error
	for _, l := range letters {
		if err := s.Publisher.Redrive(ctx, l); err != nil {
			failed = fmt.Errorf("deadletter.redrive %s: %w", l.ID, err)
			break
		}
		if err := s.Store.MarkRedriven(ctx, l.ID); err != nil {
			failed = err
			break
		}
		sent = append(sent, l)
	}
	ids := make([]string, len(sent))
	for i, l := range sent {
		ids[i] = l.ID
	}
	if err := s.Store.Audit(ctx, actor, "dead-letters.redrive", sel.Topic, ids); err != nil && failed == nil {
		failed = err
	}
	return sent, failed
}

// maxDiscardReason bounds an operator's reason for a discard.
const maxDiscardReason = 200

// Discard takes the named pending letters off the pending list for good
// (an event that must never be redriven: malformed, or a test), with the
// operator's reason. It returns the letters discarded; ids that are not
// pending are left out. The audit row names every letter discarded and
// the reason.
func (s *Service) Discard(ctx context.Context, actor string, ids []string, reason string) ([]Letter, error) {
	reason = strings.TrimSpace(reason)
	switch {
	case len(ids) == 0:
		return nil, invalid("ids", "is required: name the dead letters to discard")
	case len(ids) > 1000:
		return nil, invalid("ids", "at most 1000 per request")
	case reason == "":
		return nil, invalid("reason", "is required: say why these events must never be redriven")
	case len(reason) > maxDiscardReason || !utf8.ValidString(reason):
		return nil, invalid("reason", fmt.Sprintf("must be valid text of at most %d bytes", maxDiscardReason))
	}
	for i, id := range ids {
		if _, err := uuid.Parse(id); err != nil || len(id) != 36 {
			return nil, invalid(fmt.Sprintf("ids[%d]", i), "must be a UUID")
		}
	}
	letters, err := s.Store.Pending(ctx, "", ids)
	if err != nil {
		return nil, err
	}
	done, err := s.Store.MarkDiscarded(ctx, ids, reason)
	if err != nil {
		return nil, err
	}
	took := map[string]bool{}
	for _, id := range done {
		took[id] = true
	}
	var out []Letter
	for _, l := range letters {
		if took[l.ID] {
			out = append(out, l)
		}
	}
	// The reason stays on each letter's row (discard_reason).
	if err := s.Store.Audit(ctx, actor, "dead-letters.discard", "", done); err != nil {
		return nil, err
	}
	return out, nil
}

// Depth counts the pending letters of each original topic.
func (s *Service) Depth(ctx context.Context) (map[string]int, error) { return s.Store.Depth(ctx) }

func checkTopic(topic string) error {
	if topic == "" {
		return nil
	}
	for _, t := range Topics {
		if t == topic {
			return nil
		}
	}
	return invalid("topic", "must be one of patient, billing")
}

// invalid is a bad request naming its field (problem+json with fields).
func invalid(field, msg string) error { return validation.Field("dead-letter request", field, msg) }
