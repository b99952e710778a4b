// Command api-gateway is the only service clients talk to: it checks their
// access tokens (Dapr bearer middleware) and roles, and forwards each call to
// the owning app through Dapr service invocation.
package main

import (
	"context"
	"net/url"

	"github.com/pms-dapr/pms/apps/api-gateway/internal/billingapi"
	"github.com/pms-dapr/pms/apps/api-gateway/internal/gateway"
	"github.com/pms-dapr/pms/platform/authn"
	"github.com/pms-dapr/pms/platform/httpserver"
	"github.com/pms-dapr/pms/platform/service"
)

func main() {
	service.Main(service.App[config]{Command: command(), Run: run})
}

func run(ctx context.Context, cfg config, p *service.Process) error {
	md, err := gateway.LoadBearerMetadata(cfg.BearerComponent)
	if err != nil {
		return err
	}
	bearer, err := gateway.NewBearer(ctx, md, p.Log)
	if err != nil {
		return err
	}
	sidecar := &url.URL{Scheme: "http", Host: "127.0.0.1:" + cfg.Sidecar.HTTPPort}
	health := httpserver.Health{Log: p.Log, Checks: map[string]httpserver.Check{
		"dapr-sidecar": sidecarReady(sidecar, authn.SidecarClient(cfg.Dapr.Token)),
		"jwks":         bearer.Ready,
	}}
	billingClient, closeBilling, err := billingapi.Dial(cfg.Sidecar.GRPC())
	if err != nil {
		return err
	}
	defer closeBilling()
	h := gateway.Routes(
		gateway.Config{Sidecar: sidecar, DaprAPIToken: cfg.Dapr.Token, AllowedOrigins: cfg.AllowedOrigins,
			TrustedProxies: cfg.TrustedProxies, TraceFromProxies: cfg.TraceFromProxies,
			Billing: &billingapi.Handler{Client: billingClient, AppID: cfg.BillingAppID, DaprAPIToken: cfg.Dapr.Token, Log: p.Log}},
		gateway.Targets{Patients: cfg.PatientAppID, Analytics: cfg.AnalyticsAppID, Auth: cfg.AuthAppID},
		bearer.Middleware, health, p.Log)
	p.Go(bearer.Run)
	return p.Serve(ctx, cfg.Port, h)
}
