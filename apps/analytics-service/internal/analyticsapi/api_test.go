package analyticsapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/apps/analytics-service/internal/analytics"
	"github.com/pms-dapr/pms/apps/analytics-service/internal/analyticsapi"
	"github.com/pms-dapr/pms/apps/analytics-service/internal/deadletter"
	"github.com/pms-dapr/pms/apps/analytics-service/internal/deadletter/deadlettertest"
	"github.com/pms-dapr/pms/platform/authn"
	"github.com/pms-dapr/pms/platform/authn/authntest"
	"github.com/pms-dapr/pms/platform/httpserver"
)

// fakeStore records events in memory, or fails with err.
type fakeStore struct {
	events  map[string]analytics.Event
	billing map[string]analytics.BillingEvent
	err     error
}

func (f *fakeStore) RecordBilling(_ context.Context, ev analytics.BillingEvent) (bool, error) {
	if f.err != nil {
		return false, f.err
	}
	if _, dup := f.billing[ev.ID]; dup {
		return false, nil
	}
	f.billing[ev.ID] = ev
	return true, nil
}

func (f *fakeStore) Record(_ context.Context, ev analytics.Event) (bool, error) {
	if f.err != nil {
		return false, f.err
	}
	if _, dup := f.events[ev.ID]; dup {
		return false, nil
	}
	f.events[ev.ID] = ev
	return true, nil
}

func (f *fakeStore) RecordAll(ctx context.Context, evs []analytics.Event) ([]bool, error) {
	return recordEach(ctx, f, evs, f.Record)
}

func (f *fakeStore) RecordAllBilling(ctx context.Context, evs []analytics.BillingEvent) ([]bool, error) {
	return recordEach(ctx, f, evs, f.RecordBilling)
}

// recordEach records evs one by one, all or nothing on f.err, as one
// statement would.
func recordEach[E any](ctx context.Context, f *fakeStore, evs []E, one func(context.Context, E) (bool, error)) ([]bool, error) {
	if f.err != nil {
		return nil, f.err
	}
	isNew := make([]bool, len(evs))
	for i, ev := range evs {
		isNew[i], _ = one(ctx, ev)
	}
	return isNew, nil
}

func (f *fakeStore) Summary(context.Context) (analytics.Summary, error) {
	return analytics.Summary{TotalPatientsCreated: 3, TotalUpdates: 4, TotalPatientsDeleted: 1,
		CreatedPerDay:    []analytics.DayCount{{Date: "2026-11-24", Count: 3}},
		CreatedByAgeBand: []analytics.GroupCount{{Value: "18-29", Count: 1}, {Value: "90+", Count: 2}},
		CreatedByGender:  []analytics.GroupCount{{Value: "female", Count: 3}},
		Billing: analytics.BillingSummary{
			PerDay:      []analytics.BillingDay{{Date: "2026-11-24", Currency: "USD", Charges: 2, ChargedMinor: 15000, Payments: 1, PaidMinor: 5000}},
			Outstanding: []analytics.Outstanding{{Currency: "USD", Minor: 10000, Accounts: 1}}}}, f.err
}

const validEvent = `{"specversion":"1.0","id":"ce-1","type":"com.dapr.event.sent","datacontenttype":"application/json",
	"data":{"eventId":"0b8f0c9e-8f43-4a39-a0a4-3a4f2f0b8e11","type":"PATIENT_CREATED",
	"patientId":"3d993b7f-67e8-4f2f-9429-e766ce3a9de7","attributes":{"ageBand":"30-44","gender":"female"},"occurredAt":"2026-11-24T10:00:00Z","version":"1"}}`

const appToken = "app-token-for-tests"

func routes(store *fakeStore) http.Handler {
	return routesWith(store, &deadletter.Service{Store: deadlettertest.NewStore(), Publisher: &deadlettertest.Publisher{}}, authn.RoleAdmin)
}

func routesWith(store *fakeStore, dead *deadletter.Service, role string) http.Handler {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := analyticsapi.Routes(analytics.NewService(store), dead, analyticsapi.Security{AppAPIToken: appToken, Tokens: authntest.Tokens{Token: "good", Identity: authn.Identity{Subject: "u1", Role: role}}},
		httpserver.Health{Log: log}, log)
	if err != nil {
		panic(err)
	}
	return h
}

func deliver(store *fakeStore, body string) *httptest.ResponseRecorder {
	return deliverTo(store, analyticsapi.EventsPath, body)
}

// deliverTo sends body, a CloudEvent, to path the way the sidecar does: as
// the one entry of a bulk delivery. The recorder then holds that entry's
// status as {"status": …}; a body that is not JSON is sent as it is.
func deliverTo(store *fakeStore, path, body string) *httptest.ResponseRecorder {
	if json.Valid([]byte(body)) {
		body = `{"id":"delivery-1","pubsubname":"pubsub","type":"com.dapr.event.sent.bulk","entries":[` +
			`{"entryId":"entry-1","contentType":"application/cloudevents+json","metadata":{},"event":` + body + `}]}`
	}
	rec := deliverBulk(store, path, body)
	if rec.Code != http.StatusOK {
		return rec
	}
	var res struct {
		Statuses []struct{ EntryID, Status string }
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil || len(res.Statuses) != 1 || res.Statuses[0].EntryID != "entry-1" {
		panic(fmt.Sprintf("not one entry's status: %s", rec.Body.String()))
	}
	out := httptest.NewRecorder()
	out.WriteHeader(rec.Code)
	_, _ = fmt.Fprintf(out, `{"status":%q}`, res.Statuses[0].Status)
	return out
}

// deliverBulk posts a bulk delivery's body to path.
func deliverBulk(store *fakeStore, path, body string) *httptest.ResponseRecorder {
	h := routes(store)
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("dapr-api-token", appToken)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// deliveredTwice delivers body, then again (as a sidecar redelivers), and
// checks that both deliveries succeed.
func deliveredTwice(t *testing.T, store *fakeStore, body string) {
	t.Helper()
	for range 2 {
		rec := deliver(store, body)
		require.Equal(t, http.StatusOK, rec.Code)
		assert.JSONEq(t, `{"status":"SUCCESS"}`, rec.Body.String())
	}
}

func TestEventIsRecordedOnce(t *testing.T) {
	store := &fakeStore{events: map[string]analytics.Event{}}
	deliveredTwice(t, store, validEvent)
	require.Len(t, store.events, 1)
	ev := store.events["0b8f0c9e-8f43-4a39-a0a4-3a4f2f0b8e11"]
	assert.Equal(t, "PATIENT_CREATED", ev.Type)
	assert.Equal(t, "3d993b7f-67e8-4f2f-9429-e766ce3a9de7", ev.PatientID)
	assert.Equal(t, time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC), ev.OccurredAt)
	assert.Equal(t, "30-44", ev.AgeBand)
	assert.Equal(t, "female", ev.Gender)
}

func TestDataAsJSONStringIsAccepted(t *testing.T) {
	store := &fakeStore{events: map[string]analytics.Event{}}
	body := `{"data":"{\"eventId\":\"0b8f0c9e-8f43-4a39-a0a4-3a4f2f0b8e12\",\"type\":\"PATIENT_DELETED\",` +
		`\"patientId\":\"3d993b7f-67e8-4f2f-9429-e766ce3a9de7\",\"occurredAt\":\"2026-11-24T10:00:00Z\"}"}`
	rec := deliver(store, body)
	assert.JSONEq(t, `{"status":"SUCCESS"}`, rec.Body.String())
	assert.Len(t, store.events, 1)
}

func TestMalformedEventsAreDropped(t *testing.T) {
	cases := map[string]string{
		"data not event":   `{"data":{"eventId":7}}`,
		"no event id":      `{"data":{"type":"PATIENT_CREATED","patientId":"3d993b7f-67e8-4f2f-9429-e766ce3a9de7","occurredAt":"2026-11-24T10:00:00Z"}}`,
		"unknown type":     `{"data":{"eventId":"0b8f0c9e-8f43-4a39-a0a4-3a4f2f0b8e11","type":"PATIENT_EXPLODED"}}`,
		"no patient":       `{"data":{"eventId":"0b8f0c9e-8f43-4a39-a0a4-3a4f2f0b8e11","type":"PATIENT_CREATED","occurredAt":"2026-11-24T10:00:00Z"}}`,
		"no time":          `{"data":{"eventId":"0b8f0c9e-8f43-4a39-a0a4-3a4f2f0b8e11","type":"PATIENT_CREATED","patientId":"3d993b7f-67e8-4f2f-9429-e766ce3a9de7"}}`,
		"id not a uuid":    `{"data":{"eventId":"x","type":"PATIENT_CREATED","patientId":"3d993b7f-67e8-4f2f-9429-e766ce3a9de7","occurredAt":"2026-11-24T10:00:00Z"}}`,
		"missing payload":  `{}`,
		"unknown age band": `{"data":{"eventId":"0b8f0c9e-8f43-4a39-a0a4-3a4f2f0b8e11","type":"PATIENT_CREATED","patientId":"3d993b7f-67e8-4f2f-9429-e766ce3a9de7","occurredAt":"2026-11-24T10:00:00Z","attributes":{"ageBand":"1985-12-10"}}}`,
		"unknown gender":   `{"data":{"eventId":"0b8f0c9e-8f43-4a39-a0a4-3a4f2f0b8e11","type":"PATIENT_CREATED","patientId":"3d993b7f-67e8-4f2f-9429-e766ce3a9de7","occurredAt":"2026-11-24T10:00:00Z","attributes":{"gender":"Ada Lovelace"}}}`,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			store := &fakeStore{events: map[string]analytics.Event{}}
			rec := deliver(store, body)
			require.Equal(t, http.StatusOK, rec.Code)
			assert.JSONEq(t, `{"status":"DROP"}`, rec.Body.String())
			assert.Empty(t, store.events)
		})
	}
}

// A body that is no bulk delivery at all (the sidecar never sends one) is
// refused, and nothing is stored.
func TestNonJSONDeliveryIsRefused(t *testing.T) {
	store := &fakeStore{events: map[string]analytics.Event{}}
	rec := deliver(store, `{`)
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
	assert.Empty(t, store.events)
}

// Each entry of a bulk delivery gets its own status, by entry id: the
// good ones stored together, a repeat of one of them SUCCESS again (stored
// once), a malformed one DROP with its reason recorded.
func TestBulkDeliveryAnswersEachEntry(t *testing.T) {
	store := &fakeStore{events: map[string]analytics.Event{}}
	dead := deadlettertest.NewStore()
	h := routesWith(store, &deadletter.Service{Store: dead, Publisher: &deadlettertest.Publisher{}}, authn.RoleAdmin)
	other := strings.Replace(strings.Replace(validEvent, "0b8f0c9e-8f43-4a39-a0a4-3a4f2f0b8e11", "0b8f0c9e-8f43-4a39-a0a4-3a4f2f0b8e19", 1), `"ce-1"`, `"ce-3"`, 1)
	body := `{"entries":[` +
		`{"entryId":"a","event":` + validEvent + `},` +
		`{"entryId":"b","event":{"id":"ce-bad","data":{"eventId":7}}},` +
		`{"entryId":"c","event":` + validEvent + `},` +
		`{"entryId":"d","event":` + other + `},` +
		`{"entryId":"e","event":"not a CloudEvent"}]}`
	req := httptest.NewRequest(http.MethodPost, analyticsapi.EventsPath, strings.NewReader(body))
	req.Header.Set("dapr-api-token", appToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	assert.JSONEq(t, `{"statuses":[{"entryId":"a","status":"SUCCESS"},{"entryId":"b","status":"DROP"},
		{"entryId":"c","status":"SUCCESS"},{"entryId":"d","status":"SUCCESS"},{"entryId":"e","status":"DROP"}]}`, rec.Body.String())
	assert.Len(t, store.events, 2)
	reasons := dead.Reasons
	assert.Contains(t, reasons, "patient/ce-bad", "the reason is recorded under the CloudEvent id")
	assert.Contains(t, reasons, "patient/e", "or the entry id when there is none")
}

// batchEvent is a CloudEvent of type PatientEventBatch holding events.
func batchEvent(id string, events ...string) string {
	return `{"specversion":"1.0","id":"` + id + `","type":"pms.patient.v1.PatientEventBatch","datacontenttype":"application/json",` +
		`"data":{"events":[` + strings.Join(events, ",") + `]}}`
}

func patientEvent(eventID, typ, patientID string) string {
	return `{"eventId":"` + eventID + `","type":"` + typ + `","patientId":"` + patientID +
		`","attributes":{"ageBand":"45-64","gender":"male"},"occurredAt":"2026-12-07T10:00:00Z","version":"1"}`
}

// A batch of patient events (a bulk import's) is stored as its events,
// each once by its own id however often the batch comes; a batch with a
// malformed event is dropped whole with its reason, its good events
// stored; one that fails to store is retried whole.
func TestEventBatchIsRecordedAsItsEvents(t *testing.T) {
	store := &fakeStore{events: map[string]analytics.Event{}}
	good := batchEvent("batch-1",
		patientEvent("6a0b3c1e-0000-4000-8000-000000000001", "PATIENT_CREATED", "7d1c2b3a-0000-4000-8000-000000000001"),
		patientEvent("6a0b3c1e-0000-4000-8000-000000000002", "PATIENT_CREATED", "7d1c2b3a-0000-4000-8000-000000000002"),
		patientEvent("6a0b3c1e-0000-4000-8000-000000000003", "PATIENT_UPDATED", "7d1c2b3a-0000-4000-8000-000000000003"))
	deliveredTwice(t, store, good)
	require.Len(t, store.events, 3)
	ev := store.events["6a0b3c1e-0000-4000-8000-000000000003"]
	assert.Equal(t, "PATIENT_UPDATED", ev.Type)
	assert.Equal(t, "7d1c2b3a-0000-4000-8000-000000000003", ev.PatientID)
	assert.Equal(t, "45-64", ev.AgeBand)
	assert.Equal(t, "male", ev.Gender)

	dead := deadlettertest.NewStore()
	h := routesWith(store, &deadletter.Service{Store: dead, Publisher: &deadlettertest.Publisher{}}, authn.RoleAdmin)
	body := `{"entries":[` +
		`{"entryId":"a","event":` + batchEvent("batch-2",
		patientEvent("6a0b3c1e-0000-4000-8000-000000000004", "PATIENT_CREATED", "7d1c2b3a-0000-4000-8000-000000000004"),
		patientEvent("6a0b3c1e-0000-4000-8000-000000000005", "PATIENT_EXPLODED", "7d1c2b3a-0000-4000-8000-000000000005")) + `},` +
		`{"entryId":"b","event":` + batchEvent("batch-3") + `},` +
		`{"entryId":"c","event":{"id":"batch-4","type":"pms.patient.v1.PatientEventBatch","data":` + patientEvent(
		"6a0b3c1e-0000-4000-8000-000000000006", "PATIENT_CREATED", "7d1c2b3a-0000-4000-8000-000000000006") + `}}]}`
	req := httptest.NewRequest(http.MethodPost, analyticsapi.EventsPath, strings.NewReader(body))
	req.Header.Set("dapr-api-token", appToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, `{"statuses":[{"entryId":"a","status":"DROP"},{"entryId":"b","status":"DROP"},{"entryId":"c","status":"DROP"}]}`, rec.Body.String())
	assert.Contains(t, store.events, "6a0b3c1e-0000-4000-8000-000000000004", "the batch's good event is stored")
	assert.Len(t, store.events, 4)
	assert.Contains(t, dead.Reasons, "patient/batch-2")
	assert.Contains(t, dead.Reasons["patient/batch-3"], "without events")
	assert.Contains(t, dead.Reasons, "patient/batch-4", "a PatientEvent sent as a batch is no batch")

	rec = deliver(&fakeStore{err: errors.New("database down")}, good)
	assert.JSONEq(t, `{"status":"RETRY"}`, rec.Body.String())
}

func TestStorageFailureAsksForRetry(t *testing.T) {
	rec := deliver(&fakeStore{err: errors.New("database down")}, validEvent)
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, `{"status":"RETRY"}`, rec.Body.String())
}

func TestSummary(t *testing.T) {
	h := routes(&fakeStore{})
	req := httptest.NewRequest(http.MethodGet, "/analytics/summary", nil)
	req.Header.Set("dapr-api-token", appToken)
	req.Header.Set("Authorization", "Bearer good")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, `{"totalPatientsCreated":3,"totalUpdates":4,"totalPatientsDeleted":1,"currentPatients":2,
		"createdPerDay":[{"date":"2026-11-24","count":3}],
		"createdByAgeBand":[{"value":"18-29","count":1},{"value":"90+","count":2}],
		"createdByGender":[{"value":"female","count":3}],
		"billing":{"perDay":[{"date":"2026-11-24","currency":"USD","charges":2,"chargedMinor":15000,"payments":1,"paidMinor":5000}],
		"outstanding":[{"currency":"USD","minor":10000,"accounts":1}]}}`, rec.Body.String())
}

func TestRequestsMustComeThroughTheSidecar(t *testing.T) {
	store := &fakeStore{events: map[string]analytics.Event{}}
	req := httptest.NewRequest(http.MethodPost, analyticsapi.EventsPath, strings.NewReader(validEvent))
	rec := httptest.NewRecorder()
	routes(store).ServeHTTP(rec, req)
	assert.Equal(t, http.StatusUnauthorized, rec.Code, "no app token: an event cannot be injected")
	assert.Empty(t, store.events)

	req = httptest.NewRequest(http.MethodGet, "/analytics/summary", nil)
	req.Header.Set("dapr-api-token", appToken)
	rec = httptest.NewRecorder()
	routes(store).ServeHTTP(rec, req)
	assert.Equal(t, http.StatusUnauthorized, rec.Code, "the summary needs a user token too")
}

const billingEvent = `{"specversion":"1.0","id":"ce-2","datacontenttype":"application/json",
	"data":{"eventId":"0b8f0c9e-8f43-4a39-a0a4-3a4f2f0b8e21","type":"ENTRY_POSTED","accountId":"3d993b7f-67e8-4f2f-9429-e766ce3a9de8",
	"occurredAt":"2026-11-24T10:00:00Z","accountVersion":"3","status":"ACCOUNT_STATUS_ACTIVE","balanceMinor":"-2500","currency":"EUR",
	"entry":{"entryId":"0b8f0c9e-8f43-4a39-a0a4-3a4f2f0b8e22","kind":"ENTRY_KIND_PAYMENT","amountMinor":"-2500","currency":"EUR"}}}`

func TestBillingEventIsRecordedOnce(t *testing.T) {
	store := &fakeStore{billing: map[string]analytics.BillingEvent{}}
	for range 2 {
		rec := deliverTo(store, analyticsapi.BillingEventsPath, billingEvent)
		require.Equal(t, http.StatusOK, rec.Code)
		assert.JSONEq(t, `{"status":"SUCCESS"}`, rec.Body.String())
	}
	require.Len(t, store.billing, 1)
	ev := store.billing["0b8f0c9e-8f43-4a39-a0a4-3a4f2f0b8e21"]
	assert.Equal(t, analytics.BillingEvent{ID: "0b8f0c9e-8f43-4a39-a0a4-3a4f2f0b8e21", Type: "ENTRY_POSTED",
		AccountID: "3d993b7f-67e8-4f2f-9429-e766ce3a9de8", OccurredAt: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC),
		AccountVersion: 3, Kind: "PAYMENT", AmountMinor: -2500, Currency: "EUR", BalanceMinor: -2500}, ev)

	for _, bad := range []string{
		`{"data":{"eventId":"x"}}`,
		strings.Replace(billingEvent, `"kind":"ENTRY_KIND_PAYMENT",`, "", 1),
		strings.Replace(billingEvent, `"currency":"EUR",
	"entry"`, `"entry"`, 1),
	} {
		store := &fakeStore{billing: map[string]analytics.BillingEvent{}}
		rec := deliverTo(store, analyticsapi.BillingEventsPath, bad)
		assert.JSONEq(t, `{"status":"DROP"}`, rec.Body.String(), bad)
		assert.Empty(t, store.billing)
	}
}
