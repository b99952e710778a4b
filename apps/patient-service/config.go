package main

import (
	"errors"
	"time"

	"github.com/pms-dapr/pms/platform/service"
)

// config is everything patient-service reads from its environment.
type config struct {
	Port              string        // APP_PORT: where the sidecar reaches the app
	DatabaseURL       string        // DATABASE_URL
	DaprHTTPPort      string        // DAPR_HTTP_PORT: sidecar HTTP API (publishing)
	DaprGRPCPort      string        // DAPR_GRPC_PORT: sidecar gRPC API (billing calls)
	BillingAppID      string        // BILLING_APP_ID
	PubSubName        string        // PUBSUB_NAME
	BillingTimeout    time.Duration // BILLING_TIMEOUT
	ReconcileInterval time.Duration // BILLING_RECONCILE_INTERVAL
	AppAPIToken       string        // APP_API_TOKEN: what the sidecar presents to this app
	DaprAPIToken      string        // DAPR_API_TOKEN: what this app presents to the sidecar
	AuthAppID         string        // AUTH_APP_ID: where the JWKS comes from (through Dapr)
	Issuer            string        // AUTH_ISSUER
	Audience          string        // AUTH_AUDIENCE
	JWKSURL           string        // AUTH_JWKS_URL: another identity provider's JWKS instead of auth-service's
}

func loadConfig() (config, error) {
	c := config{
		Port:         service.Env("APP_PORT", "4000"),
		DatabaseURL:  service.Env("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/patient?sslmode=disable"),
		DaprHTTPPort: service.Env("DAPR_HTTP_PORT", "3500"),
		DaprGRPCPort: service.Env("DAPR_GRPC_PORT", "50001"),
		BillingAppID: service.Env("BILLING_APP_ID", "billing-service"),
		PubSubName:   service.Env("PUBSUB_NAME", "pubsub"),
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
	var err error
	if c.BillingTimeout, err = service.EnvDuration("BILLING_TIMEOUT", 5*time.Second); err != nil {
		return c, err
	}
	if c.ReconcileInterval, err = service.EnvDuration("BILLING_RECONCILE_INTERVAL", 2*time.Second); err != nil {
		return c, err
	}
	return c, nil
}
