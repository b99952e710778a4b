package main

import (
	"github.com/pms-dapr/pms/platform/authn"
	"github.com/pms-dapr/pms/platform/service"
)

// config is everything analytics-service reads from its environment.
type config struct {
	Port         string // APP_PORT
	ListenHost   string // LISTEN_HOST: the app's sidecar shares its host, so loopback unless set (0.0.0.0 where probes come from outside)
	DatabaseURL  string // DATABASE_URL
	DaprHTTPPort string // DAPR_HTTP_PORT
	Trust        authn.ServiceConfig
}

func loadConfig() (config, error) {
	c := config{
		Port:         service.Env("APP_PORT", "4002"),
		ListenHost:   service.Env("LISTEN_HOST", "127.0.0.1"),
		DatabaseURL:  service.Env("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/analytics?sslmode=disable"),
		DaprHTTPPort: service.Env("DAPR_HTTP_PORT", "3500"),
	}
	var err error
	c.Trust, err = authn.LoadServiceConfig(service.Env)
	return c, err
}
