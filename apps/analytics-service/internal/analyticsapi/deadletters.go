package analyticsapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/dapr/go-sdk/service/common"

	"github.com/pms-dapr/pms/apps/analytics-service/internal/analytics"
	"github.com/pms-dapr/pms/apps/analytics-service/internal/deadletter"
	"github.com/pms-dapr/pms/platform/authn"
	"github.com/pms-dapr/pms/platform/httpserver"
	"github.com/pms-dapr/pms/platform/jsonbody"
	"github.com/pms-dapr/pms/platform/problem"
)

// DeadLettersPath prefixes the operators' API (admin only, through the
// gateway): GET .../pending, POST .../redrive and POST .../discard. No path is a prefix
// of the other: a sidecar's access-control operation also allows every
// path below it. The dead-letter topics are delivered at
// /events/<topic>-deadletter.
const DeadLettersPath = "/admin/dead-letters"

// DeadLetters is what the handlers need from the dead-letter service.
type DeadLetters interface {
	NoteDrop(ctx context.Context, topic, cloudEventID, reason string) error
	Park(ctx context.Context, deadLetterTopic string, l deadletter.Letter) error
	List(ctx context.Context, actor, topic string) ([]deadletter.Letter, error)
	Discard(ctx context.Context, actor string, ids []string, reason string) ([]deadletter.Letter, error)
	Redrive(ctx context.Context, actor string, sel deadletter.Selection) ([]deadletter.Letter, error)
}

// parkFrom handles deliveries of the dead-letter topic dlt. (The envelope
// of a dead letter still names its original topic: the route tells which
// subscription delivered it.)
func (h *handler) parkFrom(dlt string) common.TopicEventHandler {
	return func(ctx context.Context, e *common.TopicEvent) (bool, error) { return h.park(ctx, dlt, e) }
}

// park stores one event arriving on a dead-letter topic; a storage
// failure asks for redelivery (nothing is lost).
func (h *handler) park(ctx context.Context, dlt string, e *common.TopicEvent) (bool, error) {
	l := deadletter.Letter{CloudEventID: e.ID, Type: e.Type, Data: unquoted(e.RawData), TraceParent: e.TraceParent}
	if key, ok := e.Metadata["partitionKey"]; ok {
		l.PartitionKey = key
	}
	// What can be read of the event's data: its id and time (never shown
	// beyond ids and times; the contracts carry no PHI).
	var fields struct {
		EventID    string    `json:"eventId"`
		OccurredAt time.Time `json:"occurredAt"`
		PatientID  string    `json:"patientId"`
		AccountID  string    `json:"accountId"`
	}
	if json.Unmarshal(l.Data, &fields) == nil {
		l.EventID, l.OccurredAt = fields.EventID, fields.OccurredAt
		if l.PartitionKey == "" { // the relays' partition keys
			l.PartitionKey = fields.PatientID + fields.AccountID
		}
	}
	if err := h.dead.Park(ctx, dlt, l); err != nil {
		h.log.ErrorContext(ctx, "dead letter not parked; asking for redelivery", "topic", dlt, "cloudevent_id", e.ID, "err", err)
		return true, err
	}
	h.log.WarnContext(ctx, "dead letter parked", "topic", dlt, "cloudevent_id", e.ID, "event_id", l.EventID)
	return false, nil
}

// drop records why an event is given up on, then lets the sidecar
// dead-letter it (retry false); if the reason cannot be recorded, the event
// is redelivered instead.
func (h *handler) drop(ctx context.Context, topic, cloudEventID string, cause error) (bool, error) {
	if err := h.dead.NoteDrop(ctx, topic, cloudEventID, cause.Error()); err != nil {
		h.log.ErrorContext(ctx, topic+" event not dropped: its reason could not be recorded; asking for redelivery",
			"cloudevent_id", cloudEventID, "err", err)
		return true, err
	}
	h.log.WarnContext(ctx, topic+" event dropped to the dead-letter topic", "cloudevent_id", cloudEventID, "err", cause)
	return false, cause
}

func permanent(err error) bool {
	return errors.Is(err, analytics.ErrMalformed) || errors.Is(err, analytics.ErrRejected)
}

type letterJSON struct {
	ID             string     `json:"id"`
	Topic          string     `json:"topic"`
	CloudEventID   string     `json:"cloudEventId"`
	EventID        string     `json:"eventId,omitempty"`
	Type           string     `json:"type,omitempty"`
	OccurredAt     *time.Time `json:"occurredAt,omitempty"`
	Reason         string     `json:"reason"`
	DeadLetteredAt time.Time  `json:"deadLetteredAt"`
}

func lettersJSON(in []deadletter.Letter) []letterJSON {
	out := make([]letterJSON, len(in))
	for i, l := range in {
		out[i] = letterJSON{ID: l.ID, Topic: l.Topic, CloudEventID: l.CloudEventID, EventID: l.EventID, Type: l.Type,
			Reason: l.Reason, DeadLetteredAt: l.DeadLetteredAt.UTC()}
		if !l.OccurredAt.IsZero() {
			t := l.OccurredAt.UTC()
			out[i].OccurredAt = &t
		}
	}
	return out
}

// admin is the verified caller when it is an admin; otherwise it answers
// 401 or 403 and returns false.
func admin(w http.ResponseWriter, r *http.Request) (authn.Identity, bool) {
	id, ok := authn.FromContext(r.Context())
	switch {
	case !ok:
		authn.Unauthorized(w, r)
	case id.Role != authn.RoleAdmin:
		authn.Forbidden(w, r)
	default:
		return id, true
	}
	return id, false
}

// listDeadLetters answers GET /admin/dead-letters/pending[?topic=patient|billing].
func (h *handler) listDeadLetters(w http.ResponseWriter, r *http.Request) {
	id, ok := admin(w, r)
	if !ok {
		return
	}
	letters, err := h.dead.List(r.Context(), id.Subject, r.URL.Query().Get("topic"))
	if err != nil {
		problem.Mapper{Log: h.log}.Write(w, r, err)
		return
	}
	httpserver.WriteJSON(w, http.StatusOK, map[string]any{"items": lettersJSON(letters)})
}

// maxRedriveBytes bounds a redrive request: 1000 ids and a little more.
const maxRedriveBytes = 64 << 10

// redriveDeadLetters answers POST /admin/dead-letters/redrive with
// {"ids": [...]} or {"all": true, "topic": "patient"}.
func (h *handler) redriveDeadLetters(w http.ResponseWriter, r *http.Request) {
	id, ok := admin(w, r)
	if !ok {
		return
	}
	var body struct {
		IDs   []string `json:"ids"`
		All   bool     `json:"all"`
		Topic string   `json:"topic"`
	}
	if !jsonbody.Decode(w, r, &body, maxRedriveBytes) {
		return
	}
	sent, err := h.dead.Redrive(r.Context(), id.Subject, deadletter.Selection{IDs: body.IDs, All: body.All, Topic: body.Topic})
	if err != nil && len(sent) == 0 {
		problem.Mapper{Log: h.log}.Write(w, r, err)
		return
	}
	if err != nil { // some went; the rest stay pending for the next redrive
		h.log.ErrorContext(r.Context(), "redrive stopped early", "sent", len(sent), "err", err)
		w.Header().Set("Retry-After", "5")
	}
	httpserver.WriteJSON(w, http.StatusOK, map[string]any{"redriven": lettersJSON(sent), "complete": err == nil})
}

// maxDiscardBytes bounds a discard request: 1000 ids, a reason, a little more.
const maxDiscardBytes = 64 << 10

// discardDeadLetters answers POST /admin/dead-letters/discard with
// {"ids": [...], "reason": "..."}: the named pending letters leave the
// pending list for good.
func (h *handler) discardDeadLetters(w http.ResponseWriter, r *http.Request) {
	id, ok := admin(w, r)
	if !ok {
		return
	}
	var body struct {
		IDs    []string `json:"ids"`
		Reason string   `json:"reason"`
	}
	if !jsonbody.Decode(w, r, &body, maxDiscardBytes) {
		return
	}
	gone, err := h.dead.Discard(r.Context(), id.Subject, body.IDs, body.Reason)
	if err != nil {
		problem.Mapper{Log: h.log}.Write(w, r, err)
		return
	}
	httpserver.WriteJSON(w, http.StatusOK, map[string]any{"discarded": lettersJSON(gone)})
}
