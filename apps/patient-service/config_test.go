package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/platform/appconfig"
)

func TestConfigRules(t *testing.T) {
	base := map[string]string{
		"DATABASE_URL": "postgres://patient_app:pw@db/patient?sslmode=verify-full", "APP_API_TOKEN": "a",
		"DAPR_API_TOKEN": "d", "AUTH_ISSUER": "https://pms.example.com/auth",
	}
	load := func(change map[string]string) (config, error) {
		env := map[string]string{}
		for k, v := range base {
			env[k] = v
		}
		for k, v := range change {
			env[k] = v
		}
		var c config
		err := appconfig.LoadFrom(context.Background(), &c, func(k string) string { return env[k] })
		return c, err
	}
	c, err := load(nil)
	require.NoError(t, err)
	assert.Equal(t, 300*time.Millisecond, c.BillingTimeout)
	assert.Equal(t, "127.0.0.1", c.ListenHost, "loopback unless told")

	for name, tc := range map[string]struct {
		change map[string]string
		want   string
	}{
		"no issuer, even in development": {map[string]string{"AUTH_ISSUER": "", "DATABASE_DEV_MODE": "true"}, "AUTH_ISSUER is required"},
		"no sidecar token":               {map[string]string{"DAPR_API_TOKEN": ""}, "DAPR_API_TOKEN is required"},
		"no app token":                   {map[string]string{"APP_API_TOKEN": ""}, "APP_API_TOKEN is required"},
		"unverified TLS":                 {map[string]string{"DATABASE_URL": "postgres://u:p@db/patient?sslmode=require"}, "sslmode=verify-full"},
		"non-positive timeout":           {map[string]string{"BILLING_TIMEOUT": "0s"}, "BILLING_TIMEOUT"},
		"malformed interval":             {map[string]string{"BILLING_RECONCILE_INTERVAL": "often"}, "BILLING_RECONCILE_INTERVAL"},
	} {
		_, err := load(tc.change)
		assert.ErrorContains(t, err, tc.want, name)
	}
	_, err = load(map[string]string{"DAPR_API_TOKEN": "", "DAPR_API_TOKEN_OPTIONAL": "true"})
	assert.NoError(t, err, "beside a sidecar without a token, when told so")
}
