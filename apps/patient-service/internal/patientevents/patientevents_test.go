package patientevents_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/pms-dapr/pms/apps/patient-service/internal/patient"
	"github.com/pms-dapr/pms/apps/patient-service/internal/patientevents"
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
