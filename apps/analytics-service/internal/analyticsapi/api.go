// Package analyticsapi serves analytics-service's HTTP side: the Dapr
// subscription endpoint for patient events and the summary API.
package analyticsapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/pms-dapr/pms/apps/analytics-service/internal/analytics"
	"github.com/pms-dapr/pms/platform/authn"
	"github.com/pms-dapr/pms/platform/problem"
	"github.com/pms-dapr/pms/platform/service"
	patientv1 "github.com/pms-dapr/pms/proto/patient/v1"
)

// EventsPath is where the sidecar delivers the "patient" topic (see the
// Subscription in components/).
const EventsPath = "/events/patient"

// Recorder is what the handlers need from the domain.
type Recorder interface {
	Record(ctx context.Context, ev analytics.Event) (bool, error)
	Summary(ctx context.Context) (analytics.Summary, error)
}

// TokenVerifier wraps handlers so they see only callers with a valid access
// token.
type TokenVerifier interface {
	Middleware(next http.Handler) http.Handler
}

// Security is how the service trusts a request: everything must come through
// its Dapr sidecar (app API token); the analytics API also needs a valid
// user access token (event deliveries come from the sidecar, not a user).
type Security struct {
	AppAPIToken string
	Tokens      TokenVerifier
}

// Routes returns the service's router.
func Routes(rec Recorder, sec Security, health service.Health, log *slog.Logger) http.Handler {
	h := &handler{rec: rec, log: log}
	r := chi.NewRouter()
	r.Use(service.RequestIDs, service.AccessLog(log), middleware.Recoverer, authn.RequireAppToken(sec.AppAPIToken))
	r.Get("/healthz", health.Live)
	r.Get("/readyz", health.Ready)
	r.Post(EventsPath, h.event)
	r.With(sec.Tokens.Middleware).Get("/analytics/summary", h.summary)
	r.NotFound(problem.NotFound)
	return r
}

type handler struct {
	rec Recorder
	log *slog.Logger
}

// Dapr reads the outcome of a delivery from this status field.
const (
	statusSuccess = "SUCCESS"
	statusRetry   = "RETRY"
	statusDrop    = "DROP"
)

// event records one CloudEvent from the sidecar. A malformed event is
// dropped (retrying cannot fix it); a storage failure asks Dapr to retry.
func (h *handler) event(w http.ResponseWriter, r *http.Request) {
	ev, err := decodeCloudEvent(io.LimitReader(r.Body, 1<<20))
	if err == nil {
		var isNew bool
		isNew, err = h.rec.Record(r.Context(), ev)
		if err == nil && !isNew {
			h.log.InfoContext(r.Context(), "duplicate event ignored", "event_id", ev.ID)
		}
	}
	switch {
	case err == nil:
		service.WriteJSON(w, http.StatusOK, map[string]string{"status": statusSuccess})
	case errors.Is(err, analytics.ErrMalformed):
		h.log.WarnContext(r.Context(), "malformed event dropped", "err", err)
		service.WriteJSON(w, http.StatusOK, map[string]string{"status": statusDrop})
	default:
		h.log.ErrorContext(r.Context(), "event not recorded; asking for redelivery", "err", err)
		service.WriteJSON(w, http.StatusInternalServerError, map[string]string{"status": statusRetry})
	}
}

// decodeCloudEvent extracts the PatientEvent from a CloudEvent envelope whose
// data is the event's protojson (as an object, or as a JSON string).
func decodeCloudEvent(body io.Reader) (analytics.Event, error) {
	var envelope struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(body).Decode(&envelope); err != nil {
		return analytics.Event{}, errors.Join(analytics.ErrMalformed, err)
	}
	data := envelope.Data
	var s string
	if json.Unmarshal(data, &s) == nil {
		data = []byte(s)
	}
	var pe patientv1.PatientEvent
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, &pe); err != nil {
		return analytics.Event{}, errors.Join(analytics.ErrMalformed, err)
	}
	ev := analytics.Event{ID: pe.GetEventId(), PatientID: pe.GetPatient().GetId()}
	if pe.GetType() != patientv1.EventType_EVENT_TYPE_UNSPECIFIED {
		ev.Type = pe.GetType().String()
	}
	if pe.GetOccurredAt() != nil {
		ev.OccurredAt = pe.GetOccurredAt().AsTime()
	}
	return ev, nil
}

type dayCount struct {
	Date  string `json:"date"`
	Count int64  `json:"count"`
}

type summaryResponse struct {
	TotalPatientsCreated int64      `json:"totalPatientsCreated"`
	TotalUpdates         int64      `json:"totalUpdates"`
	TotalPatientsDeleted int64      `json:"totalPatientsDeleted"`
	CurrentPatients      int64      `json:"currentPatients"`
	CreatedPerDay        []dayCount `json:"createdPerDay"`
}

func (h *handler) summary(w http.ResponseWriter, r *http.Request) {
	sum, err := h.rec.Summary(r.Context())
	if err != nil {
		h.log.ErrorContext(r.Context(), "summary failed", "err", err)
		problem.Write(w, r, problem.New(http.StatusInternalServerError, "The summary could not be computed."))
		return
	}
	out := summaryResponse{TotalPatientsCreated: sum.TotalPatientsCreated, TotalUpdates: sum.TotalUpdates,
		TotalPatientsDeleted: sum.TotalPatientsDeleted, CurrentPatients: sum.CurrentPatients(),
		CreatedPerDay: make([]dayCount, len(sum.CreatedPerDay))}
	for i, d := range sum.CreatedPerDay {
		out.CreatedPerDay[i] = dayCount{Date: d.Date, Count: d.Count}
	}
	service.WriteJSON(w, http.StatusOK, out)
}
