package main

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/pms-dapr/pms/platform/appconfig"
)

func TestConfigNeedsIssuerAndKeyOutsideDevelopment(t *testing.T) {
	load := func(env map[string]string) (config, error) {
		var c config
		err := appconfig.LoadFrom(context.Background(), &c, func(k string) string { return env[k] })
		return c, err
	}
	db := "postgres://auth_app:pw@db/auth?sslmode=verify-full"
	_, err := load(map[string]string{"DATABASE_URL": db, "APP_API_TOKEN": "a", "AUTH_SIGNING_KEY_FILE": "k.pem"})
	assert.ErrorContains(t, err, "AUTH_ISSUER is required outside development mode")
	_, err = load(map[string]string{"DATABASE_URL": db, "APP_API_TOKEN": "a", "AUTH_ISSUER": "https://x/auth"})
	assert.ErrorContains(t, err, "AUTH_SIGNING_KEY_FILE is required")
	_, err = load(map[string]string{"DATABASE_URL": db, "APP_API_TOKEN": "a", "AUTH_ISSUER": "https://x/auth",
		"AUTH_SIGNING_KEY_FILE": "k.pem", "AUTH_BOOTSTRAP_ADMIN_EMAIL": "a@b.c"})
	assert.ErrorContains(t, err, "AUTH_BOOTSTRAP_ADMIN_PASSWORD")
	c, err := load(map[string]string{"DATABASE_URL": db, "APP_API_TOKEN": "a", "AUTH_DEV_MODE": "true"})
	assert.NoError(t, err)
	assert.Equal(t, devIssuer, c.Issuer, "development mode fills in the local issuer")
	assert.Equal(t, ".dapr/dev-signing-key.pem", c.DevKeyFile)
}
