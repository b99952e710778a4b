package analyticsapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/apps/analytics-service/internal/analytics"
	"github.com/pms-dapr/pms/apps/analytics-service/internal/deadletter"
	"github.com/pms-dapr/pms/apps/analytics-service/internal/deadletter/deadlettertest"
	"github.com/pms-dapr/pms/platform/authn"
)

func send(h http.Handler, method, path, body string, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("dapr-api-token", appToken)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// A dropped event's reason is recorded before the sidecar dead-letters it;
// its dead letter is parked once with that reason, listed without its data
// to admins only, and redriven once.
func TestDeadLetterRoundTrip(t *testing.T) {
	st, pub := deadlettertest.NewStore(), &deadlettertest.Publisher{}
	dead := &deadletter.Service{Store: st, Publisher: pub}
	h := routesWith(&fakeStore{events: map[string]analytics.Event{}}, dead, authn.RoleAdmin)
	const bad = `{"specversion":"1.0","id":"ce-9","type":"pms.patient.v1.PatientEvent","datacontenttype":"application/json",
		"data":{"eventId":"0b8f0c9e-8f43-4a39-a0a4-3a4f2f0b8e11","type":"PATIENT_CREATED","patientId":"3d993b7f-67e8-4f2f-9429-e766ce3a9de7",
		"occurredAt":"2026-11-24T10:00:00Z","attributes":{"gender":"Ada Lovelace"}}}`
	ce := []string{"Content-Type", "application/cloudevents+json"}
	rec := send(h, http.MethodPost, "/events/patient", bad, ce...)
	assert.JSONEq(t, `{"status":"DROP"}`, rec.Body.String())
	require.Contains(t, st.Reasons, "patient/ce-9")
	assert.NotContains(t, st.Reasons["patient/ce-9"], "Ada")

	for range 2 { // the dead letter arrives twice (two subscribers dropped it)
		rec = send(h, http.MethodPost, "/events/patient-deadletter", bad, ce...)
		assert.JSONEq(t, `{"status":"SUCCESS"}`, rec.Body.String())
	}
	require.Len(t, st.Letters, 1)
	assert.Equal(t, "3d993b7f-67e8-4f2f-9429-e766ce3a9de7", st.Letters[0].PartitionKey)

	rec = send(h, http.MethodGet, "/admin/dead-letters/pending", "", "Authorization", "Bearer good")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.NotContains(t, rec.Body.String(), "Ada")
	assert.NotContains(t, rec.Body.String(), "attributes", "the data is never listed")
	var list struct {
		Items []struct{ ID, Topic, EventID, CloudEventID, Reason string }
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &list))
	require.Len(t, list.Items, 1)
	assert.Equal(t, "0b8f0c9e-8f43-4a39-a0a4-3a4f2f0b8e11", list.Items[0].EventID)
	assert.Equal(t, "ce-9", list.Items[0].CloudEventID)
	assert.Contains(t, list.Items[0].Reason, "unknown gender")

	rec = send(h, http.MethodPost, "/admin/dead-letters/redrive", `{"ids":["`+list.Items[0].ID+`"]}`,
		"Authorization", "Bearer good", "Content-Type", "application/json")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Len(t, pub.Sent, 1)
	assert.Equal(t, "ce-9", pub.Sent[0].CloudEventID)
	assert.Equal(t, "pms.patient.v1.PatientEvent", pub.Sent[0].Type)

	// Parked again and discarded: off the list, with the reason required.
	require.Equal(t, `{"status":"SUCCESS"}`, strings.TrimSpace(send(h, http.MethodPost, "/events/billing-deadletter",
		strings.Replace(bad, "ce-9", "ce-10", 1), ce...).Body.String()))
	pending := st.Letters[len(st.Letters)-1].ID
	rec = send(h, http.MethodPost, "/admin/dead-letters/discard", `{"ids":["`+pending+`"]}`,
		"Authorization", "Bearer good", "Content-Type", "application/json")
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Contains(t, rec.Body.String(), `"reason"`)
	rec = send(h, http.MethodPost, "/admin/dead-letters/discard", `{"ids":["`+pending+`"],"reason":"a test event"}`,
		"Authorization", "Bearer good", "Content-Type", "application/json")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Contains(t, rec.Body.String(), `"cloudEventId":"ce-10"`)
	rec = send(h, http.MethodGet, "/admin/dead-letters/pending", "", "Authorization", "Bearer good")
	assert.NotContains(t, rec.Body.String(), "ce-10", "a discarded letter is no longer listed")

	rec = send(h, http.MethodPost, "/admin/dead-letters/redrive", `{"ids":["nope"]}`,
		"Authorization", "Bearer good", "Content-Type", "application/json")
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Contains(t, rec.Body.String(), `"ids[0]"`)
}

func TestDeadLettersAreForAdminsOnly(t *testing.T) {
	dead := &deadletter.Service{Store: deadlettertest.NewStore(), Publisher: &deadlettertest.Publisher{}}
	h := routesWith(&fakeStore{}, dead, authn.RoleClinician)
	assert.Equal(t, http.StatusForbidden, send(h, http.MethodGet, "/admin/dead-letters/pending", "", "Authorization", "Bearer good").Code)
	assert.Equal(t, http.StatusUnauthorized, send(h, http.MethodGet, "/admin/dead-letters/pending", "").Code)
	assert.Equal(t, http.StatusForbidden, send(h, http.MethodPost, "/admin/dead-letters/redrive", `{"all":true}`,
		"Authorization", "Bearer good", "Content-Type", "application/json").Code)
	assert.Equal(t, http.StatusForbidden, send(h, http.MethodPost, "/admin/dead-letters/discard", `{"ids":[],"reason":"x"}`,
		"Authorization", "Bearer good", "Content-Type", "application/json").Code)
}
