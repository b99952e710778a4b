// Package identitytest holds what tests of identity's users share.
package identitytest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/apps/auth-service/internal/identity"
)

// FailureLogContract is what a throttle over a failure log must do; the
// in-memory and the PostgreSQL failure logs both run it.
func FailureLogContract(t *testing.T, newLog func(t *testing.T) identity.FailureLog) {
	ctx := context.Background()
	th := identity.NewSharedThrottle(5, time.Minute, newLog(t))
	blocked := func(key string, at time.Time) time.Duration {
		d, err := th.Blocked(ctx, key, at)
		require.NoError(t, err)
		return d
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 5 {
		assert.Zero(t, blocked("a", t0.Add(time.Duration(i)*time.Second)))
		require.NoError(t, th.Fail(ctx, "a", t0.Add(time.Duration(i)*time.Second)))
	}
	assert.Equal(t, 55*time.Second, blocked("a", t0.Add(5*time.Second)), "until the first failure leaves the window")
	assert.Zero(t, blocked("b", t0.Add(5*time.Second)), "keys are independent")
	assert.Zero(t, blocked("a", t0.Add(61*time.Second)), "the window slides")
	n, err := th.Failures(ctx, "a", t0.Add(5*time.Second))
	require.NoError(t, err)
	assert.Equal(t, 5, n)
	require.NoError(t, th.Reset(ctx, "a"))
	assert.Zero(t, blocked("a", t0.Add(6*time.Second)))
}
