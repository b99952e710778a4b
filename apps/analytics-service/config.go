package main

import (
	"github.com/pms-dapr/pms/platform/authn"
	"github.com/pms-dapr/pms/platform/pgdb"
	"github.com/pms-dapr/pms/platform/service"
)

// config is everything analytics-service reads from its environment.
type config struct {
	Port         string      // APP_PORT
	ListenHost   string      // LISTEN_HOST: the app's sidecar shares its host, so loopback unless set (0.0.0.0 where probes come from outside)
	Database     pgdb.Config // DATABASE_URL, DATABASE_DEV_MODE
	DaprHTTPPort string      // DAPR_HTTP_PORT
	Trust        authn.ServiceConfig
}

func loadConfig() (config, error) {
	c := config{
		Port:         service.Env("APP_PORT", "4002"),
		ListenHost:   service.Env("LISTEN_HOST", "127.0.0.1"),
		DaprHTTPPort: service.Env("DAPR_HTTP_PORT", "3500"),
	}
	var err error
	if c.Trust, err = authn.LoadServiceConfig(service.Env); err != nil {
		return c, err
	}
	c.Database, err = pgdb.LoadConfig()
	return c, err
}
