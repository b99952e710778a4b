package analyticsapi_test

import (
	"net/http"
	"testing"

	"github.com/pms-dapr/pms/apps/analytics-service/internal/analytics"
	"github.com/pms-dapr/pms/platform/validation"
)

// FuzzDeliveries sends arbitrary CloudEvent bodies to the subscription
// route: the answer is never a 5xx (a 500 would mean "retry" to Dapr and
// block the partition), and nothing PostgreSQL would refuse (NUL, invalid
// UTF-8) reaches the store. `go test` runs the seeds; `go test -fuzz
// FuzzDeliveries` explores.
func FuzzDeliveries(f *testing.F) {
	for _, seed := range []string{
		validEvent,
		`{"data":{"eventId":"0b8f0c9e-8f43-4a39-a0a4-3a4f2f0b8e11","type":"PATIENT_CREATED","patientId":"3d993b7f-67e8-4f2f-9429-e766ce3a9de7","occurredAt":"2026-11-24T10:00:00Z","attributes":{"ageBand":"\u0000","gender":"\u0000"}}}`,
		"{\"data\":{\"eventId\":\"\xff\",\"type\":\"PATIENT_CREATED\"}}",
		`{"data":"not an event"}`, `{"data":null}`, `{"data":[1,2]}`, `{}`, `[]`, `{`, ``,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		store := &fakeStore{events: map[string]analytics.Event{}}
		rec := deliver(store, body)
		if rec.Code >= 500 {
			t.Fatalf("%q: %d %s", body, rec.Code, rec.Body.String())
		}
		if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
			t.Fatalf("%q: status %d is neither an answer nor a refused delivery", body, rec.Code)
		}
		for _, ev := range store.events {
			for _, s := range []string{ev.ID, ev.Type, ev.PatientID, ev.AgeBand, ev.Gender} {
				if validation.Unstorable(s) {
					t.Fatalf("%q: stored text PostgreSQL would refuse: %q", body, s)
				}
			}
		}
	})
}
