package billing_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/pms-dapr/pms/apps/billing-service/internal/billing"
	"github.com/pms-dapr/pms/apps/billing-service/internal/billing/billingtest"
)

func TestFakeStoreMeetsTheStoreContract(t *testing.T) {
	billingtest.StoreContract(t, func(*testing.T) billing.Store { return billingtest.NewStore() })
}

func TestCurrencies(t *testing.T) {
	for code, digits := range map[string]int{"USD": 2, "eur": 2, "JPY": 0, "KWD": 3} {
		_, d, ok := billing.Currency(code)
		assert.True(t, ok, code)
		assert.Equal(t, digits, d, code)
	}
	for _, code := range []string{"", "US", "ZZZ", "XXX", "XAU", "USDD"} {
		_, _, ok := billing.Currency(code)
		assert.False(t, ok, code)
	}
	_, err := billing.NewService(billingtest.NewStore(), "dollars")
	assert.Error(t, err)
}

func TestRoles(t *testing.T) {
	assert.True(t, billing.Allowed("clinician", billing.ActionCharge))
	assert.False(t, billing.Allowed("clinician", billing.ActionPayment))
	assert.True(t, billing.Allowed("billing", billing.ActionClose))
	assert.False(t, billing.Allowed("billing", billing.ActionAuditRead))
	assert.False(t, billing.Allowed("", billing.ActionAccountRead))
}
