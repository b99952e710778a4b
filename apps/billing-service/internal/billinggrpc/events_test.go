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

func TestPatientDeletionClosesTheAccountOnce(t *testing.T) {
	svc, err := billing.NewService(billingtest.NewStore(), "USD")
	require.NoError(t, err)
	acc, _, err := svc.Open(context.Background(), patientID)
	require.NoError(t, err)
	handle := billinggrpc.PatientEvents(svc, service.NewLoggerTo(io.Discard, "billing-service"))
	deleted := `{"eventId":"0b8f0c9e-8f43-4a39-a0a4-3a4f2f0b8e11","type":"PATIENT_DELETED","patientId":"` + patientID + `","version":"2"}`

	for range 2 { // delivered, then redelivered
		retry, err := handle(context.Background(), &common.TopicEvent{RawData: []byte(deleted)})
		require.NoError(t, err)
		assert.False(t, retry)
	}
	got, err := svc.Get(context.Background(), billingtest.Admin, acc.ID)
	require.NoError(t, err)
	assert.Equal(t, billing.StatusClosed, got.Status)
	assert.Equal(t, int64(2), got.Version, "closed once")

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
