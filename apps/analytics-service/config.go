package main

import (
	"errors"

	"github.com/pms-dapr/pms/platform/service"
)

// config is everything analytics-service reads from its environment.
type config struct {
	Port         string // APP_PORT
	DatabaseURL  string // DATABASE_URL
	DaprHTTPPort string // DAPR_HTTP_PORT
	AppAPIToken  string // APP_API_TOKEN: what the sidecar presents to this app
	DaprAPIToken string // DAPR_API_TOKEN: what this app presents to the sidecar
	AuthAppID    string // AUTH_APP_ID: where the JWKS comes from (through Dapr)
	Issuer       string // AUTH_ISSUER
	Audience     string // AUTH_AUDIENCE
	JWKSURL      string // AUTH_JWKS_URL: another identity provider's JWKS instead of auth-service's
}

func loadConfig() (config, error) {
	c := config{
		Port:         service.Env("APP_PORT", "4002"),
		DatabaseURL:  service.Env("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/analytics?sslmode=disable"),
		DaprHTTPPort: service.Env("DAPR_HTTP_PORT", "3500"),
		AppAPIToken:  service.Env("APP_API_TOKEN", ""),
		DaprAPIToken: service.Env("DAPR_API_TOKEN", ""),
		AuthAppID:    service.Env("AUTH_APP_ID", "auth-service"),
		Issuer:       service.Env("AUTH_ISSUER", "http://localhost:4004/auth"),
		Audience:     service.Env("AUTH_AUDIENCE", "pms-api"),
		JWKSURL:      service.Env("AUTH_JWKS_URL", ""),
	}
	if c.AppAPIToken == "" || c.DaprAPIToken == "" {
		return c, errors.New("config: APP_API_TOKEN and DAPR_API_TOKEN are required (the Dapr app and sidecar API tokens)")
	}
	return c, nil
}
