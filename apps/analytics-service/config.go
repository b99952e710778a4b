package main

import (
	"github.com/pms-dapr/pms/platform/appconfig"
	"github.com/pms-dapr/pms/platform/authn"
	"github.com/pms-dapr/pms/platform/metrics"
	"github.com/pms-dapr/pms/platform/pgdb"
	"github.com/pms-dapr/pms/platform/service"
)

// config is everything analytics-service reads from its environment.
type config struct {
	Port         string `env:"APP_PORT, default=4002" help:"The port the sidecar delivers events and forwards API calls to."`
	ListenHost   string `env:"LISTEN_HOST, default=127.0.0.1" help:"The address the app listens on: its sidecar shares its host, so loopback unless set (0.0.0.0 where probes come from outside)."`
	Database     pgdb.Config
	DaprHTTPPort string `env:"DAPR_HTTP_PORT, default=3500" help:"The sidecar's HTTP API port on 127.0.0.1 (invoking auth-service for its keys)."`
	DaprGRPCPort string `env:"DAPR_GRPC_PORT, default=50001" help:"The sidecar's gRPC API port on 127.0.0.1 (redriving dead letters to their topics)."`
	PubSubName   string `env:"PUBSUB_NAME, default=pubsub" help:"The Dapr pub/sub component events come from and dead letters are redriven through."`
	Trust        authn.ServiceConfig
	Metrics      metrics.Config
	Profiling    service.Profiling
}

// Validate checks what presence alone does not.
func (c config) Validate() error {
	if err := c.Trust.Validate(); err != nil {
		return err
	}
	return c.Database.Validate()
}

// command is analytics-service's command line, for --help and the
// generated configuration reference.
func command() appconfig.Command {
	return pgdb.Command("analytics-service",
		"Consumes patient events from the Dapr pub/sub topic \"patient\" (idempotent on event id) and serves aggregates over them.",
		config{})
}
