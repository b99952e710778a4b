package analyticsdb_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/apps/analytics-service/internal/analytics"
	"github.com/pms-dapr/pms/apps/analytics-service/internal/analyticsdb"
	"github.com/pms-dapr/pms/platform/pgtest"
)

var template = pgtest.NewTemplate("analytics", analyticsdb.Migrations())

func TestRecordOnceAndSummarisePerDayAgeBandAndGender(t *testing.T) {
	store := analyticsdb.New(template.Pool(t))
	ctx := context.Background()
	day1 := time.Date(2026, 11, 23, 23, 59, 0, 0, time.UTC)
	day2 := time.Date(2026, 11, 24, 0, 1, 0, 0, time.FixedZone("CET", 3600)) // 2026-11-23 23:01 UTC
	day3 := time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)
	deletedPatient := uuid.NewString()
	events := []analytics.Event{
		{ID: uuid.NewString(), Type: "PATIENT_CREATED", PatientID: uuid.NewString(), OccurredAt: day1, AgeBand: "90+", Gender: "female"},
		{ID: uuid.NewString(), Type: "PATIENT_CREATED", PatientID: uuid.NewString(), OccurredAt: day2, AgeBand: "18-29", Gender: "female"},
		{ID: uuid.NewString(), Type: "PATIENT_CREATED", PatientID: uuid.NewString(), OccurredAt: day3},
		{ID: uuid.NewString(), Type: "PATIENT_UPDATED", PatientID: uuid.NewString(), OccurredAt: day3},
		{ID: uuid.NewString(), Type: "PATIENT_UPDATED", PatientID: uuid.NewString(), OccurredAt: day3},
		{ID: uuid.NewString(), Type: "PATIENT_DELETED", PatientID: deletedPatient, OccurredAt: day3},
	}
	for _, ev := range events {
		isNew, err := store.Record(ctx, ev)
		require.NoError(t, err)
		assert.True(t, isNew)
	}
	isNew, err := store.Record(ctx, events[0])
	require.NoError(t, err)
	assert.False(t, isNew, "a redelivered event is not stored again")

	sum, err := store.Summary(ctx)
	require.NoError(t, err)
	assert.Equal(t, analytics.Summary{
		TotalPatientsCreated: 3,
		TotalUpdates:         2,
		TotalPatientsDeleted: 1,
		CreatedPerDay:        []analytics.DayCount{{Date: "2026-11-23", Count: 2}, {Date: "2026-11-24", Count: 1}},
		CreatedByAgeBand:     []analytics.GroupCount{{Value: "18-29", Count: 1}, {Value: "90+", Count: 1}, {Value: "", Count: 1}},
		CreatedByGender:      []analytics.GroupCount{{Value: "", Count: 1}, {Value: "female", Count: 2}},
	}, sum)
	assert.EqualValues(t, 2, sum.CurrentPatients())
}
