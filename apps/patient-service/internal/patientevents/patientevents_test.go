package patientevents_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/pms-dapr/pms/apps/patient-service/internal/patient"
	"github.com/pms-dapr/pms/apps/patient-service/internal/patientevents"
	patientv1 "github.com/pms-dapr/pms/proto/patient/v1"
)

func TestEncodeCarriesNoPHI(t *testing.T) {
	_, err := patientevents.Encode(patientEvent("PATIENT_BOGUS"))
	assert.Error(t, err, "an unknown event type is refused")
	m, err := patientevents.Encode(patientEvent("PATIENT_CREATED"))
	assert.NoError(t, err)
	assert.Equal(t, patientevents.Topic, m.Topic)
	assert.Equal(t, "p-1", m.Key, "keyed by patient")
	assert.Contains(t, m.Payload, `"30-44"`, "the age band, not the date of birth")
	for _, phi := range []string{"Ada", "ada@example.com", "1 Main St", "1990", "MRN-1"} {
		assert.NotContains(t, m.Payload, phi)
	}
}

func patientEvent(typ string) patient.Event {
	at := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	return patient.Event{ID: "e-1", Type: patient.EventType(typ), OccurredAt: at, Patient: patient.Patient{
		ID: "p-1", MRN: "MRN-1", Name: "Ada", Email: "ada@example.com", Address: "1 Main St", Gender: "female",
		DateOfBirth: time.Date(1990, 1, 2, 0, 0, 0, 0, time.UTC), Version: 1,
	}}
}

// A bulk change's events go out as batches of at most MaxBatch, each of
// CloudEvent type BatchType with an id and key of its own, each event in
// it as Encode renders it alone (and as free of PHI).
func TestEncodeBatchesPacksEventsWhole(t *testing.T) {
	n := patientevents.MaxBatch + 2
	evs := make([]patient.Event, n)
	for i := range evs {
		evs[i] = patientEvent("PATIENT_CREATED")
		evs[i].ID, evs[i].Patient.ID = fmt.Sprintf("e-%d", i), fmt.Sprintf("p-%d", i)
	}
	msgs, err := patientevents.EncodeBatches(evs)
	require.NoError(t, err)
	require.Len(t, msgs, 2)
	assert.NotEqual(t, msgs[0].EventID, msgs[1].EventID)
	var got []*patientv1.PatientEvent
	for _, m := range msgs {
		assert.Equal(t, patientevents.Topic, m.Topic)
		assert.Equal(t, patientevents.BatchType, m.Type)
		assert.Equal(t, m.EventID, m.Key)
		for _, phi := range []string{"Ada", "ada@example.com", "1 Main St", "1990", "MRN-1"} {
			assert.NotContains(t, m.Payload, phi)
		}
		var b patientv1.PatientEventBatch
		require.NoError(t, protojson.Unmarshal([]byte(m.Payload), &b))
		got = append(got, b.GetEvents()...)
	}
	assert.Len(t, got, n)
	one, err := patientevents.Encode(evs[n-1])
	require.NoError(t, err)
	assert.JSONEq(t, one.Payload, protojson.Format(got[n-1]))
	assert.Equal(t, string((&patientv1.PatientEventBatch{}).ProtoReflect().Descriptor().FullName()), patientevents.BatchType)

	_, err = patientevents.EncodeBatches([]patient.Event{patientEvent("PATIENT_BOGUS")})
	assert.Error(t, err)
}
