package main

import (
	"github.com/pms-dapr/pms/platform/appconfig"
	"github.com/pms-dapr/pms/platform/authn"
	"github.com/pms-dapr/pms/platform/metrics"
	"github.com/pms-dapr/pms/platform/pgdb"
	"github.com/pms-dapr/pms/platform/service"
)

// config is everything billing-service reads from its environment.
type config struct {
	Port            string `env:"APP_PORT, default=9001" help:"The gRPC port the sidecar proxies invocations (and delivers events) to."`
	ListenHost      string `env:"LISTEN_HOST, default=127.0.0.1" help:"The address the app listens on: its sidecar shares its host, so loopback unless set (0.0.0.0 where probes come from outside)."`
	HealthPort      string `env:"HEALTH_PORT, default=4001" help:"The HTTP port of /healthz and /readyz."`
	DaprHTTPPort    string `env:"DAPR_HTTP_PORT, default=3500" help:"The sidecar's HTTP API port on 127.0.0.1 (invoking auth-service for its keys)."`
	DaprGRPCPort    string `env:"DAPR_GRPC_PORT, default=50001" help:"The sidecar's gRPC API port on 127.0.0.1 (publishing billing events)."`
	PubSubName      string `env:"PUBSUB_NAME, default=pubsub" help:"The Dapr pub/sub component billing events are published through and patient events come from."`
	DefaultCurrency string `env:"BILLING_DEFAULT_CURRENCY, default=USD" help:"The ISO 4217 currency new accounts are kept in (every amount of an account is in its currency)."`
	Database        pgdb.Config
	Trust           authn.ServiceConfig
	Metrics         metrics.Config
	Profiling       service.Profiling
}

// Validate checks what presence alone does not.
func (c config) Validate() error {
	if err := c.Database.Validate(); err != nil {
		return err
	}
	return c.Trust.Validate()
}

// command is billing-service's command line, for --help and the generated
// configuration reference.
func command() appconfig.Command {
	return pgdb.Command("billing-service",
		"Owns billing accounts and their ledgers and serves them over gRPC (pms.billing.v1.BillingService), reached through Dapr gRPC proxying; closes a deleted patient's account.",
		config{})
}
