package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	patientv1 "github.com/pms-dapr/pms/proto/patient/v1"
)

// publish sends raw data to the patient topic through patient-service's
// sidecar, as patient-service's outbox relay does.
func publish(t *testing.T, data []byte) {
	t.Helper()
	app := sys.App("patient-service")
	req, err := http.NewRequest(http.MethodPost, app.SidecarHTTP()+"/v1.0/publish/pubsub/patient", bytes.NewReader(data))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("dapr-api-token", app.DaprAPIToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
}

// analytics stores an event once even when it is delivered twice, and a
// malformed event is dropped without blocking the events behind it.
func TestAnalyticsIsIdempotentAndSkipsMalformedEvents(t *testing.T) {
	before := analyticsSummary(t).TotalPatientsCreated
	ev, err := protojson.Marshal(&patientv1.PatientEvent{
		EventId:    uuid.NewString(),
		Type:       patientv1.EventType_PATIENT_CREATED,
		Patient:    &patientv1.Patient{Id: uuid.NewString(), Name: "Replayed", Email: "replayed@example.com"},
		OccurredAt: timestamppb.Now(),
		Version:    1,
	})
	require.NoError(t, err)

	publish(t, []byte(`{"eventId": 12, "type": "NOPE"}`))
	publish(t, ev)
	publish(t, ev)
	marker, _ := createPatient(t, newPatient("After Replay"))
	require.NotEmpty(t, marker.ID)

	// The replayed event counts once, the real patient once: +2 in all.
	eventually(t, 10*time.Second, "analytics catches up", func() error {
		if n := analyticsSummary(t).TotalPatientsCreated; n != before+2 {
			return fmt.Errorf("totalPatientsCreated = %d, want %d", n, before+2)
		}
		return nil
	})
	time.Sleep(time.Second)
	assert.Equal(t, before+2, analyticsSummary(t).TotalPatientsCreated, "no late duplicate")
}
