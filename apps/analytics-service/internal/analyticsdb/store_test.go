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
		Billing:              analytics.BillingSummary{PerDay: []analytics.BillingDay{}, Outstanding: []analytics.Outstanding{}},
	}, sum)
	assert.EqualValues(t, 2, sum.CurrentPatients())
}

// Charges and payments are counted per UTC day and currency; the
// outstanding total is each account's latest balance, whatever order the
// events arrive in.
func TestBillingSummary(t *testing.T) {
	store := analyticsdb.New(template.Pool(t))
	ctx := context.Background()
	a, b := uuid.NewString(), uuid.NewString()
	day1 := time.Date(2026, 11, 23, 23, 30, 0, 0, time.UTC)
	day2 := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	events := []analytics.BillingEvent{
		{Type: "ENTRY_POSTED", AccountID: a, OccurredAt: day1, AccountVersion: 2, Kind: "CHARGE", AmountMinor: 10_000, Currency: "USD", BalanceMinor: 10_000},
		{Type: "ENTRY_POSTED", AccountID: a, OccurredAt: day2, AccountVersion: 4, Kind: "PAYMENT", AmountMinor: -3_000, Currency: "USD", BalanceMinor: 9_500},
		{Type: "ENTRY_POSTED", AccountID: a, OccurredAt: day2, AccountVersion: 3, Kind: "CHARGE", AmountMinor: 2_500, Currency: "USD", BalanceMinor: 12_500},
		{Type: "ENTRY_POSTED", AccountID: b, OccurredAt: day2, AccountVersion: 2, Kind: "CHARGE", AmountMinor: 700, Currency: "EUR", BalanceMinor: 700},
		{Type: "ENTRY_POSTED", AccountID: b, OccurredAt: day2, AccountVersion: 3, Kind: "REVERSAL", AmountMinor: -700, Currency: "EUR", BalanceMinor: 0},
		{Type: "ACCOUNT_STATUS_CHANGED", AccountID: b, OccurredAt: day2, AccountVersion: 5, Currency: "EUR", BalanceMinor: 0},
	}
	for i := range events {
		events[i].ID = uuid.NewString()
		isNew, err := store.RecordBilling(ctx, events[i])
		require.NoError(t, err)
		assert.True(t, isNew)
	}
	isNew, err := store.RecordBilling(ctx, events[0])
	require.NoError(t, err)
	assert.False(t, isNew, "a redelivered event counts once")
	sum, err := store.Summary(ctx)
	require.NoError(t, err)
	assert.Equal(t, []analytics.BillingDay{
		{Date: "2026-11-23", Currency: "USD", Charges: 1, ChargedMinor: 10_000},
		{Date: "2026-11-24", Currency: "EUR", Charges: 1, ChargedMinor: 700},
		{Date: "2026-11-24", Currency: "USD", Charges: 1, ChargedMinor: 2_500, Payments: 1, PaidMinor: 3_000},
	}, sum.Billing.PerDay)
	assert.Equal(t, []analytics.Outstanding{{Currency: "EUR", Minor: 0, Accounts: 1}, {Currency: "USD", Minor: 9_500, Accounts: 1}},
		sum.Billing.Outstanding)
}
