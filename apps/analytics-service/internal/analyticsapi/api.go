// Package analyticsapi serves analytics-service's HTTP side: the Dapr
// subscription endpoint for patient events and the summary API.
package analyticsapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/dapr/go-sdk/service/common"
	daprhttp "github.com/dapr/go-sdk/service/http"
	"github.com/go-chi/chi/v5/middleware"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/pms-dapr/pms/apps/analytics-service/internal/analytics"
	"github.com/pms-dapr/pms/apps/analytics-service/internal/deadletter"
	"github.com/pms-dapr/pms/platform/httpserver"
	"github.com/pms-dapr/pms/platform/problem"
	"github.com/pms-dapr/pms/platform/tracing"
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
	RecordAll(ctx context.Context, evs []analytics.Event) []analytics.Result
	RecordAllBilling(ctx context.Context, evs []analytics.BillingEvent) []analytics.Result
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

// Routes returns the service's router. Patient and billing events come in
// bulk (their Subscriptions' bulkSubscribe): a batch of CloudEvents per
// delivery, stored together and answered with a status per entry
// (bulkEvents). Dead letters come one at a time, decoded by the Dapr Go
// SDK's HTTP service (built over this router), which answers the sidecar
// with SUCCESS, RETRY or DROP as the handler decides; the SDK has no bulk
// subscription handler. The SDK checks the app API token only for
// service-invocation handlers, not for topic deliveries, so the project's
// token middleware stands in front of every route, and the router is
// served by the project's own server (timeouts), not the SDK's Start.
func Routes(rec Recorder, dead DeadLetters, sec Security, health httpserver.Health, log *slog.Logger) (http.Handler, error) {
	h := &handler{rec: rec, dead: dead, log: log}
	r := httpserver.Router(log, sec.AppAPIToken, health, middleware.RequestSize(maxEventBytes))
	// The subscriptions themselves are declared in components/ (declarative
	// Subscriptions, with their dead-letter topics); this only binds the
	// routes.
	r.Post(EventsPath, bulkEvents(h, Topic, decodeEvents, func(ev analytics.Event) string { return ev.ID }, rec.RecordAll))
	r.Post(BillingEventsPath, bulkEvents(h, BillingTopic, decodeBillingEvent,
		func(ev analytics.BillingEvent) string { return ev.ID }, rec.RecordAllBilling))
	sdk := daprhttp.NewServiceWithMux("", r)
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
	r.With(sec.Tokens.Middleware).Post(DeadLettersPath+"/discard", h.discardDeadLetters)
	return r, nil
}

// maxEventBytes bounds a delivery: events carry identifiers and a few
// attributes, never documents, but a bulk delivery of batches of them (a
// bulk import's, PatientEventBatch) holds up to 10,000 events, about 2 MB;
// the sidecar's own limit of an app's request is 4 MB.
const maxEventBytes = 4 << 20

type handler struct {
	rec  Recorder
	dead DeadLetters
	log  *slog.Logger
}

// bulkRequest is a bulk delivery: the sidecar's envelope around a batch of
// entries, each a CloudEvent.
type bulkRequest struct {
	Entries *[]bulkEntry `json:"entries"`
}

type bulkEntry struct {
	EntryID string          `json:"entryId"`
	Event   json.RawMessage `json:"event"`
}

// cloudEvent is what a delivery needs of a CloudEvent: its id, type, data
// and the trace it continues.
type cloudEvent struct {
	ID          string          `json:"id"`
	Type        string          `json:"type"`
	TraceParent string          `json:"traceparent"`
	Data        json.RawMessage `json:"data"`
	DataBase64  string          `json:"data_base64"`
}

type bulkStatus struct {
	EntryID string                            `json:"entryId"`
	Status  common.SubscriptionResponseStatus `json:"status"`
}

// bulkEvents handles a bulk delivery of topic (or a single CloudEvent, as a
// batch of one): every entry is decoded into its events (one, or a
// PatientEventBatch's many), the decodable ones are stored together
// (record: one statement, one commit), and each entry is answered SUCCESS,
// DROP (malformed, or refused by the database for what it holds: its
// reason is recorded, then the sidecar publishes it to the dead-letter
// topic) or RETRY (anything else; the sidecar redelivers it). An entry
// holding many events is answered for all of them: RETRY if one of them
// must be retried, else DROP if one was dropped; its other events are
// stored, and stored once however often the entry comes back. Storage is
// idempotent on event id, and analytics keeps events, not state, so the
// order of events within a delivery does not matter.
func bulkEvents[E any](h *handler, topic string, decode func(ceType string, data []byte) ([]E, error), eventID func(E) string,
	record func(context.Context, []E) []analytics.Result) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		var req bulkRequest
		if err == nil {
			err = json.Unmarshal(body, &req)
		}
		if err != nil {
			problem.Write(w, r, problem.New(http.StatusBadRequest, "The delivery is neither a CloudEvent nor a bulk delivery of CloudEvents."))
			return
		}
		// One CloudEvent on its own (a Subscription without bulkSubscribe)
		// is a batch of one, answered with its status alone.
		single := req.Entries == nil
		entries := []bulkEntry{{Event: body}}
		if !single {
			entries = *req.Entries
		}
		ctx := r.Context()
		n := len(entries)
		ceIDs, evIDs, results := make([]string, n), make([]string, n), make([]analytics.Result, n)
		// Each entry's consumer span is a child of that event's own trace
		// (its CloudEvent's traceparent), linked to the delivery's.
		spans := make([]trace.Span, n)
		spanCtx := make([]context.Context, n)
		var decoded []E
		var of []int // the entry each decoded event came in
		for i, e := range entries {
			var ce cloudEvent
			ceIDs[i] = e.EntryID
			err := json.Unmarshal(e.Event, &ce)
			spanCtx[i], spans[i] = tracing.StartSpan(tracing.FromTraceParent(ctx, ce.TraceParent), "consume "+topic,
				trace.WithSpanKind(trace.SpanKindConsumer), trace.WithLinks(trace.LinkFromContext(ctx)),
				trace.WithAttributes(attribute.String("messaging.destination.name", topic), attribute.String("messaging.message.id", ce.ID)))
			var evs []E
			if err == nil {
				if ce.ID != "" {
					ceIDs[i] = ce.ID
				}
				data := []byte(ce.Data)
				if ce.DataBase64 != "" {
					data, err = base64.StdEncoding.DecodeString(ce.DataBase64)
				}
				if err == nil {
					evs, err = decode(ce.Type, data)
				}
			}
			if err != nil {
				results[i].Err = errors.Join(analytics.ErrMalformed, err)
				continue
			}
			evIDs[i] = ceIDs[i]
			if len(evs) == 1 {
				evIDs[i] = eventID(evs[0])
			}
			for _, ev := range evs {
				decoded, of = append(decoded, ev), append(of, i)
			}
		}
		if len(decoded) > 0 {
			for j, res := range record(ctx, decoded) {
				results[of[j]] = worse(results[of[j]], res)
			}
		}
		statuses := make([]bulkStatus, n)
		for i, e := range entries {
			statuses[i] = bulkStatus{EntryID: e.EntryID, Status: h.outcome(spanCtx[i], topic, ceIDs[i], evIDs[i], results[i])}
			if statuses[i].Status != common.SubscriptionResponseStatusSuccess {
				spans[i].SetStatus(codes.Error, string(statuses[i].Status))
			}
			spans[i].End()
		}
		w.Header().Set("Content-Type", "application/json")
		if single {
			_ = json.NewEncoder(w).Encode(struct {
				Status common.SubscriptionResponseStatus `json:"status"`
			}{statuses[0].Status})
			return
		}
		_ = json.NewEncoder(w).Encode(struct {
			Statuses []bulkStatus `json:"statuses"`
		}{statuses})
	}
}

// worse is the outcome of an entry holding the events of a and b: an
// error that asks for redelivery before one that drops, and new if either
// was.
func worse(a, b analytics.Result) analytics.Result {
	out := analytics.Result{New: a.New || b.New, Err: a.Err}
	if out.Err == nil || (b.Err != nil && permanent(out.Err) && !permanent(b.Err)) {
		out.Err = b.Err
	}
	return out
}

// outcome answers one event of a delivery. A malformed event, or one the
// database refuses for what it holds, is dropped with its reason recorded,
// which the sidecar turns into a publish to the dead-letter topic, so it
// never blocks its partition; any other failure asks for redelivery, which
// the resiliency policy repeats until it succeeds.
func (h *handler) outcome(ctx context.Context, topic, cloudEventID, eventID string, res analytics.Result) common.SubscriptionResponseStatus {
	switch err := res.Err; {
	case err == nil:
		if !res.New {
			h.log.InfoContext(ctx, "duplicate event ignored", "event_id", eventID)
		}
		return common.SubscriptionResponseStatusSuccess
	case permanent(err):
		if retry, _ := h.drop(ctx, topic, cloudEventID, err); retry {
			return common.SubscriptionResponseStatusRetry
		}
		return common.SubscriptionResponseStatusDrop
	default:
		h.log.ErrorContext(ctx, topic+" event not recorded; asking for redelivery", "event_id", eventID, "err", err)
		return common.SubscriptionResponseStatusRetry
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
// decodeEvents does for one PatientEvent.
func decodeBillingEvent(_ string, data []byte) ([]analytics.BillingEvent, error) {
	data = unquoted(data)
	var be billingv1.BillingEvent
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, &be); err != nil {
		return nil, errors.Join(analytics.ErrMalformedBilling, err)
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
	return []analytics.BillingEvent{ev}, nil
}

// patientBatchType is the CloudEvent type of a PatientEventBatch.
var patientBatchType = string((&patientv1.PatientEventBatch{}).ProtoReflect().Descriptor().FullName())

// decodeEvents reads the patient events in a CloudEvent's data: its
// protojson, as an object or as a JSON string holding it; a
// PatientEventBatch (by the CloudEvent's type) when it holds many, else one
// PatientEvent.
func decodeEvents(ceType string, data []byte) ([]analytics.Event, error) {
	data = unquoted(data)
	opts := protojson.UnmarshalOptions{DiscardUnknown: true}
	if ceType != patientBatchType {
		var pe patientv1.PatientEvent
		if err := opts.Unmarshal(data, &pe); err != nil {
			return nil, errors.Join(analytics.ErrMalformed, err)
		}
		return []analytics.Event{eventOf(&pe)}, nil
	}
	var batch patientv1.PatientEventBatch
	if err := opts.Unmarshal(data, &batch); err != nil {
		return nil, errors.Join(analytics.ErrMalformed, err)
	}
	if len(batch.GetEvents()) == 0 {
		return nil, fmt.Errorf("%w: a batch without events", analytics.ErrMalformed)
	}
	evs := make([]analytics.Event, len(batch.GetEvents()))
	for i, pe := range batch.GetEvents() {
		evs[i] = eventOf(pe)
	}
	return evs, nil
}

// eventOf is the part of pe analytics keeps.
func eventOf(pe *patientv1.PatientEvent) analytics.Event {
	ev := analytics.Event{ID: pe.GetEventId(), PatientID: pe.GetPatientId(),
		AgeBand: pe.GetAttributes().GetAgeBand(), Gender: pe.GetAttributes().GetGender()}
	if pe.GetType() != patientv1.EventType_EVENT_TYPE_UNSPECIFIED {
		ev.Type = pe.GetType().String()
	}
	if pe.GetOccurredAt() != nil {
		ev.OccurredAt = pe.GetOccurredAt().AsTime()
	}
	return ev
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
