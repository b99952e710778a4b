// Package analyticsapi serves analytics-service's HTTP side: the Dapr
// subscription endpoint for patient events and the summary API.
package analyticsapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/dapr/go-sdk/service/common"
	daprhttp "github.com/dapr/go-sdk/service/http"
	"github.com/go-chi/chi/v5/middleware"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/pms-dapr/pms/apps/analytics-service/internal/analytics"
	"github.com/pms-dapr/pms/apps/analytics-service/internal/deadletter"
	"github.com/pms-dapr/pms/platform/httpserver"
	"github.com/pms-dapr/pms/platform/problem"
	billingv1 "github.com/pms-dapr/pms/proto/billing/v1"
	patientv1 "github.com/pms-dapr/pms/proto/patient/v1"
)

// Where the sidecar delivers the events (see the Subscription in
// components/).
const (
	PubSub            = "pubsub"
	Topic             = "patient"
	EventsPath        = "/events/patient"
	BillingTopic      = "billing"
	BillingEventsPath = "/events/billing"
)

// Recorder is what the handlers need from the domain.
type Recorder interface {
	Record(ctx context.Context, ev analytics.Event) (bool, error)
	RecordBilling(ctx context.Context, ev analytics.BillingEvent) (bool, error)
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

// Routes returns the service's router. Event deliveries are decoded by the
// Dapr Go SDK's HTTP service (built over this router), which answers the
// sidecar with SUCCESS, RETRY or DROP as the handler decides. The SDK checks
// the app API token only for service-invocation handlers, not for topic
// deliveries, so the project's token middleware stands in front of every
// route, and the router is served by the project's own server (timeouts),
// not the SDK's Start.
func Routes(rec Recorder, dead DeadLetters, sec Security, health httpserver.Health, log *slog.Logger) (http.Handler, error) {
	h := &handler{rec: rec, dead: dead, log: log}
	r := httpserver.Router(log, sec.AppAPIToken, health, middleware.RequestSize(maxEventBytes))
	// The subscription itself is declared in components/ (a declarative
	// Subscription, with its dead-letter topic); this only binds the route.
	sdk := daprhttp.NewServiceWithMux("", r)
	if err := sdk.AddTopicEventHandler(&common.Subscription{PubsubName: PubSub, Topic: Topic, Route: EventsPath}, h.event); err != nil {
		return nil, fmt.Errorf("analyticsapi: %w", err)
	}
	if err := sdk.AddTopicEventHandler(&common.Subscription{PubsubName: PubSub, Topic: BillingTopic, Route: BillingEventsPath}, h.billingEvent); err != nil {
		return nil, fmt.Errorf("analyticsapi: %w", err)
	}
	// The dead-letter topics (declared in components/, without a
	// dead-letter topic of their own: a parking that fails is redelivered).
	for dlt := range deadletter.Topics {
		if err := sdk.AddTopicEventHandler(&common.Subscription{PubsubName: PubSub, Topic: dlt, Route: "/events/" + dlt}, h.parkFrom(dlt)); err != nil {
			return nil, fmt.Errorf("analyticsapi: %w", err)
		}
	}
	r.With(sec.Tokens.Middleware).Get("/analytics/summary", h.summary)
	r.With(sec.Tokens.Middleware).Get(DeadLettersPath+"/pending", h.listDeadLetters)
	r.With(sec.Tokens.Middleware).Post(DeadLettersPath+"/redrive", h.redriveDeadLetters)
	return r, nil
}

// maxEventBytes bounds a delivery: events carry identifiers and a few
// attributes, never documents.
const maxEventBytes = 1 << 20

type handler struct {
	rec  Recorder
	dead DeadLetters
	log  *slog.Logger
}

// event records one delivered patient event.
func (h *handler) event(ctx context.Context, e *common.TopicEvent) (bool, error) {
	ev, err := decodeEvent(e.RawData)
	return h.handle(ctx, "patient", e.ID, ev.ID, err, func() (bool, error) { return h.rec.Record(ctx, ev) })
}

// billingEvent records one delivered billing event.
func (h *handler) billingEvent(ctx context.Context, e *common.TopicEvent) (bool, error) {
	ev, err := decodeBillingEvent(e.RawData)
	return h.handle(ctx, "billing", e.ID, ev.ID, err, func() (bool, error) { return h.rec.RecordBilling(ctx, ev) })
}

// handle records a decoded event (decodeErr: it could not be decoded). A
// malformed event, or one the database refuses for what it holds, is
// dropped with its reason recorded (retry false), which the sidecar turns
// into a publish to the dead-letter topic, so it never blocks its
// partition; any other failure asks for redelivery (retry true), which the
// resiliency policy repeats until it succeeds.
func (h *handler) handle(ctx context.Context, topic, cloudEventID, eventID string, decodeErr error, record func() (bool, error)) (retry bool, err error) {
	err = decodeErr
	if err == nil {
		var isNew bool
		isNew, err = record()
		if err == nil && !isNew {
			h.log.InfoContext(ctx, "duplicate event ignored", "event_id", eventID)
		}
	}
	switch {
	case err == nil:
		return false, nil
	case permanent(err):
		return h.drop(ctx, topic, cloudEventID, err)
	default:
		h.log.ErrorContext(ctx, topic+" event not recorded; asking for redelivery", "event_id", eventID, "err", err)
		return true, err
	}
}

// unquoted is the protojson a CloudEvent's data holds: the data itself,
// or the JSON string it is.
func unquoted(data []byte) []byte {
	var s string
	if json.Unmarshal(data, &s) == nil {
		return []byte(s)
	}
	return data
}

// decodeBillingEvent reads the BillingEvent in a CloudEvent's data, as
// decodeEvent does.
func decodeBillingEvent(data []byte) (analytics.BillingEvent, error) {
	data = unquoted(data)
	var be billingv1.BillingEvent
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, &be); err != nil {
		return analytics.BillingEvent{}, errors.Join(analytics.ErrMalformedBilling, err)
	}
	ev := analytics.BillingEvent{ID: be.GetEventId(), AccountID: be.GetAccountId(), AccountVersion: be.GetAccountVersion(),
		Currency: be.GetCurrency(), BalanceMinor: be.GetBalanceMinor(), AmountMinor: be.GetEntry().GetAmountMinor()}
	if be.GetType() != billingv1.BillingEventType_BILLING_EVENT_TYPE_UNSPECIFIED {
		ev.Type = be.GetType().String()
	}
	if k := be.GetEntry().GetKind(); k != billingv1.EntryKind_ENTRY_KIND_UNSPECIFIED {
		ev.Kind = strings.TrimPrefix(k.String(), "ENTRY_KIND_")
	}
	if be.GetOccurredAt() != nil {
		ev.OccurredAt = be.GetOccurredAt().AsTime()
	}
	return ev, nil
}

// decodeEvent reads the PatientEvent in a CloudEvent's data: its protojson,
// as an object or as a JSON string holding it.
func decodeEvent(data []byte) (analytics.Event, error) {
	data = unquoted(data)
	var pe patientv1.PatientEvent
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, &pe); err != nil {
		return analytics.Event{}, errors.Join(analytics.ErrMalformed, err)
	}
	ev := analytics.Event{ID: pe.GetEventId(), PatientID: pe.GetPatientId(),
		AgeBand: pe.GetAttributes().GetAgeBand(), Gender: pe.GetAttributes().GetGender()}
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

type groupCount struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
}

type summaryResponse struct {
	TotalPatientsCreated int64          `json:"totalPatientsCreated"`
	TotalUpdates         int64          `json:"totalUpdates"`
	TotalPatientsDeleted int64          `json:"totalPatientsDeleted"`
	CurrentPatients      int64          `json:"currentPatients"`
	CreatedPerDay        []dayCount     `json:"createdPerDay"`
	CreatedByAgeBand     []groupCount   `json:"createdByAgeBand"`
	CreatedByGender      []groupCount   `json:"createdByGender"`
	Billing              billingSummary `json:"billing"`
}

// billingSummary is in minor units of each row's currency.
type billingSummary struct {
	PerDay      []billingDay  `json:"perDay"`
	Outstanding []outstanding `json:"outstanding"`
}

type billingDay struct {
	Date         string `json:"date"`
	Currency     string `json:"currency"`
	Charges      int64  `json:"charges"`
	ChargedMinor int64  `json:"chargedMinor"`
	Payments     int64  `json:"payments"`
	PaidMinor    int64  `json:"paidMinor"`
}

type outstanding struct {
	Currency string `json:"currency"`
	Minor    int64  `json:"minor"`
	Accounts int64  `json:"accounts"`
}

func groups(in []analytics.GroupCount) []groupCount {
	out := make([]groupCount, len(in))
	for i, g := range in {
		out[i] = groupCount{Value: g.Value, Count: g.Count}
	}
	return out
}

func (h *handler) summary(w http.ResponseWriter, r *http.Request) {
	sum, err := h.rec.Summary(r.Context())
	if err != nil {
		problem.Mapper{Log: h.log}.Write(w, r, err)
		return
	}
	out := summaryResponse{TotalPatientsCreated: sum.TotalPatientsCreated, TotalUpdates: sum.TotalUpdates,
		TotalPatientsDeleted: sum.TotalPatientsDeleted, CurrentPatients: sum.CurrentPatients(),
		CreatedPerDay:    make([]dayCount, len(sum.CreatedPerDay)),
		CreatedByAgeBand: groups(sum.CreatedByAgeBand), CreatedByGender: groups(sum.CreatedByGender)}
	for i, d := range sum.CreatedPerDay {
		out.CreatedPerDay[i] = dayCount{Date: d.Date, Count: d.Count}
	}
	out.Billing = billingSummary{PerDay: []billingDay{}, Outstanding: []outstanding{}}
	for _, d := range sum.Billing.PerDay {
		out.Billing.PerDay = append(out.Billing.PerDay, billingDay{Date: d.Date, Currency: d.Currency, Charges: d.Charges,
			ChargedMinor: d.ChargedMinor, Payments: d.Payments, PaidMinor: d.PaidMinor})
	}
	for _, o := range sum.Billing.Outstanding {
		out.Billing.Outstanding = append(out.Billing.Outstanding, outstanding{Currency: o.Currency, Minor: o.Minor, Accounts: o.Accounts})
	}
	httpserver.WriteJSON(w, http.StatusOK, out)
}
