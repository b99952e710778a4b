package main

import (
	"github.com/pms-dapr/pms/platform/appconfig"
	"github.com/pms-dapr/pms/platform/pgdb"
	"github.com/pms-dapr/pms/platform/service"
)

// config is everything billing-service reads from its environment.
type config struct {
	Port        string `env:"APP_PORT, default=9001" help:"The gRPC port the sidecar proxies invocations to."`
	ListenHost  string `env:"LISTEN_HOST, default=127.0.0.1" help:"The address the app listens on: its sidecar shares its host, so loopback unless set (0.0.0.0 where probes come from outside)."`
	HealthPort  string `env:"HEALTH_PORT, default=4001" help:"The HTTP port of /healthz and /readyz."`
	Database    pgdb.Config
	AppAPIToken string `env:"APP_API_TOKEN, required" secret:"true" help:"The app API token the Dapr sidecar presents to this app; any call without it is refused (UNAUTHENTICATED)."`
	Profiling   service.Profiling
}

// Validate checks what presence alone does not.
func (c config) Validate() error { return c.Database.Validate() }

// command is billing-service's command line, for --help and the generated
// configuration reference.
func command() appconfig.Command {
	return pgdb.Command("billing-service",
		"Owns billing accounts and serves them over gRPC (pms.billing.v1.BillingService), reached through Dapr gRPC proxying.",
		config{})
}
