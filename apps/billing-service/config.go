package main

import (
	"errors"

	"github.com/pms-dapr/pms/platform/pgdb"
	"github.com/pms-dapr/pms/platform/service"
)

// config is everything billing-service reads from its environment.
type config struct {
	Port        string      // APP_PORT: gRPC port the sidecar proxies to
	ListenHost  string      // LISTEN_HOST: the app's sidecar shares its host, so loopback unless set (0.0.0.0 where probes come from outside)
	HealthPort  string      // HEALTH_PORT: HTTP /healthz and /readyz
	Database    pgdb.Config // DATABASE_URL, DATABASE_DEV_MODE
	AppAPIToken string      // APP_API_TOKEN: what the sidecar presents to this app
}

func loadConfig() (config, error) {
	c := config{
		Port:        service.Env("APP_PORT", "9001"),
		ListenHost:  service.Env("LISTEN_HOST", "127.0.0.1"),
		HealthPort:  service.Env("HEALTH_PORT", "4001"),
		AppAPIToken: service.Env("APP_API_TOKEN", ""),
	}
	if c.AppAPIToken == "" {
		return c, errors.New("config: APP_API_TOKEN is required (the token the Dapr sidecar presents)")
	}
	var err error
	c.Database, err = pgdb.LoadConfig()
	return c, err
}
