package billinggrpc_test

import (
	"context"
	"io"
	"testing"

	"github.com/dapr/go-sdk/service/common"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/apps/billing-service/internal/billing"
	"github.com/pms-dapr/pms/apps/billing-service/internal/billing/billingtest"
	"github.com/pms-dapr/pms/apps/billing-service/internal/billinggrpc"
	"github.com/pms-dapr/pms/platform/service"
)

// closedOnce delivers e twice (delivered, then redelivered) and checks
// that account id was closed, once.
func closedOnce(t *testing.T, svc *billing.Service, id string, handle common.TopicEventHandler, e *common.TopicEvent) {
	t.Helper()
	for range 2 {
		retry, err := handle(context.Background(), e)
		require.NoError(t, err)
		assert.False(t, retry)
	}
	got, err := svc.Get(context.Background(), billingtest.Admin, id)
	require.NoError(t, err)
	assert.Equal(t, billing.StatusClosed, got.Status)
	assert.Equal(t, int64(2), got.Version, "closed once")
}

func TestPatientDeletionClosesTheAccountOnce(t *testing.T) {
	svc, err := billing.NewService(billingtest.NewStore(), "USD")
	require.NoError(t, err)
	acc, _, err := svc.Open(context.Background(), patientID)
	require.NoError(t, err)
	handle := billinggrpc.PatientEvents(svc, service.NewLoggerTo(io.Discard, "billing-service"))
	deleted := `{"eventId":"0b8f0c9e-8f43-4a39-a0a4-3a4f2f0b8e11","type":"PATIENT_DELETED","patientId":"` + patientID + `","version":"2"}`

	closedOnce(t, svc, acc.ID, handle, &common.TopicEvent{RawData: []byte(deleted)})

	updated := `{"eventId":"0b8f0c9e-8f43-4a39-a0a4-3a4f2f0b8e12","type":"PATIENT_UPDATED","patientId":"` + patientID + `"}`
	retry, err := handle(context.Background(), &common.TopicEvent{RawData: []byte(updated)})
	assert.NoError(t, err, "other patient events need nothing from billing")
	assert.False(t, retry)

	for _, bad := range []string{`{`, `{"type":"PATIENT_DELETED","patientId":"x","eventId":"y"}`, `{"eventId":"0b8f0c9e-8f43-4a39-a0a4-3a4f2f0b8e13"}`} {
		retry, err := handle(context.Background(), &common.TopicEvent{RawData: []byte(bad)})
		assert.Error(t, err, bad)
		assert.False(t, retry, "a malformed event is dropped to the dead-letter topic, not retried: %s", bad)
	}
}

// A batch of patient events (a bulk import's, CloudEvent type
// PatientEventBatch) is handled event by event: its deletions close their
// accounts, once however often the batch comes; a batch holding an event
// without a type, or none at all, is dropped.
func TestPatientEventBatchIsHandledEventByEvent(t *testing.T) {
	svc, err := billing.NewService(billingtest.NewStore(), "USD")
	require.NoError(t, err)
	acc, _, err := svc.Open(context.Background(), patientID)
	require.NoError(t, err)
	handle := billinggrpc.PatientEvents(svc, service.NewLoggerTo(io.Discard, "billing-service"))
	const batchType = "pms.patient.v1.PatientEventBatch"
	batch := `{"events":[{"eventId":"0b8f0c9e-8f43-4a39-a0a4-3a4f2f0b8e21","type":"PATIENT_CREATED","patientId":"3d993b7f-67e8-4f2f-9429-e766ce3a9de7"},` +
		`{"eventId":"0b8f0c9e-8f43-4a39-a0a4-3a4f2f0b8e22","type":"PATIENT_DELETED","patientId":"` + patientID + `","version":"2"}]}`
	closedOnce(t, svc, acc.ID, handle, &common.TopicEvent{Type: batchType, RawData: []byte(batch)})

	for _, bad := range []string{`{"events":[]}`, `{"events":[{"eventId":"0b8f0c9e-8f43-4a39-a0a4-3a4f2f0b8e23"}]}`, `{"events":7}`} {
		retry, err := handle(context.Background(), &common.TopicEvent{Type: batchType, RawData: []byte(bad)})
		assert.Error(t, err, bad)
		assert.False(t, retry, "a malformed batch is dropped to the dead-letter topic, not retried: %s", bad)
	}
}
