package main

import (
	"github.com/pms-dapr/pms/platform/appconfig"
	"github.com/pms-dapr/pms/platform/pgdb"
	"github.com/pms-dapr/pms/platform/service"
)

// config is everything analytics-service reads from its environment.
type config struct {
	Port string `env:"APP_PORT, default=4002" help:"The port the sidecar delivers events and forwards API calls to."`
	service.Backend
}

// command is analytics-service's command line, for --help and the
// generated configuration reference.
func command() appconfig.Command {
	return pgdb.Command("analytics-service",
		"Consumes patient and billing events from the Dapr pub/sub topics \"patient\" and \"billing\" (idempotent on event id) and serves aggregates over them; parks the events of both dead-letter topics for an admin to list, redrive or discard.",
		config{})
}
