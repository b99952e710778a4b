package main

import (
	"time"

	"github.com/pms-dapr/pms/platform/authn"
	"github.com/pms-dapr/pms/platform/pgdb"
	"github.com/pms-dapr/pms/platform/service"
)

// config is everything patient-service reads from its environment.
type config struct {
	Port              string        // APP_PORT: where the sidecar reaches the app
	ListenHost        string        // LISTEN_HOST: the app's sidecar shares its host, so loopback unless set (0.0.0.0 where probes come from outside)
	Database          pgdb.Config   // DATABASE_URL, DATABASE_DEV_MODE
	DaprHTTPPort      string        // DAPR_HTTP_PORT: sidecar HTTP API (invoking auth-service for its keys)
	DaprGRPCPort      string        // DAPR_GRPC_PORT: sidecar gRPC API (publishing, billing calls)
	BillingAppID      string        // BILLING_APP_ID
	PubSubName        string        // PUBSUB_NAME
	BillingTimeout    time.Duration // BILLING_TIMEOUT
	ReconcileInterval time.Duration // BILLING_RECONCILE_INTERVAL
	Trust             authn.ServiceConfig
}

func loadConfig() (config, error) {
	c := config{
		Port:         service.Env("APP_PORT", "4000"),
		ListenHost:   service.Env("LISTEN_HOST", "127.0.0.1"),
		DaprHTTPPort: service.Env("DAPR_HTTP_PORT", "3500"),
		DaprGRPCPort: service.Env("DAPR_GRPC_PORT", "50001"),
		BillingAppID: service.Env("BILLING_APP_ID", "billing-service"),
		PubSubName:   service.Env("PUBSUB_NAME", "pubsub"),
	}
	var err error
	if c.Database, err = pgdb.LoadConfig(); err != nil {
		return c, err
	}
	if c.Trust, err = authn.LoadServiceConfig(service.Env); err != nil {
		return c, err
	}
	// A registration waits this long for its billing account, then answers
	// without it (the reconciler opens it): a slow or stopped billing-service
	// costs a registration at most this much.
	if c.BillingTimeout, err = service.EnvDuration("BILLING_TIMEOUT", 300*time.Millisecond); err != nil {
		return c, err
	}
	if c.ReconcileInterval, err = service.EnvDuration("BILLING_RECONCILE_INTERVAL", 2*time.Second); err != nil {
		return c, err
	}
	return c, nil
}
