package main

import (
	"github.com/pms-dapr/pms/platform/appconfig"
	"github.com/pms-dapr/pms/platform/pgdb"
	"github.com/pms-dapr/pms/platform/service"
)

// config is everything billing-service reads from its environment.
type config struct {
	Port       string `env:"APP_PORT, default=9001" help:"The gRPC port the sidecar proxies invocations (and delivers events) to."`
	HealthPort string `env:"HEALTH_PORT, default=4001" help:"The HTTP port of /healthz and /readyz."`
	service.Backend
	DefaultCurrency string `env:"BILLING_DEFAULT_CURRENCY, default=USD" help:"The ISO 4217 currency new accounts are kept in (every amount of an account is in its currency)."`
}

// command is billing-service's command line, for --help and the generated
// configuration reference.
func command() appconfig.Command {
	return pgdb.Command("billing-service",
		"Owns billing accounts and their ledgers and serves them over gRPC (pms.billing.v1.BillingService), reached through Dapr gRPC proxying; closes a deleted patient's account.",
		config{})
}
