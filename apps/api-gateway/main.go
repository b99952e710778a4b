// Command api-gateway is the only service clients talk to: it checks their
// access tokens (Dapr bearer middleware) and roles, and forwards each call to
// the owning app through Dapr service invocation.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sync/errgroup"

	"github.com/pms-dapr/pms/apps/api-gateway/internal/billingapi"
	"github.com/pms-dapr/pms/apps/api-gateway/internal/gateway"
	"github.com/pms-dapr/pms/platform/appconfig"
	"github.com/pms-dapr/pms/platform/authn"
	"github.com/pms-dapr/pms/platform/httpserver"
	"github.com/pms-dapr/pms/platform/service"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if appconfig.HandleHelp(os.Args, os.Stdout, command()) {
		return
	}
	log := service.NewLogger("api-gateway")
	if err := run(ctx, log); err != nil {
		log.Error("api-gateway stopped with an error", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger) error {
	cfg, err := loadConfig(ctx)
	if err != nil {
		return err
	}
	log.Info("configuration", appconfig.LogAttrs(cfg)...)
	service.ProfileOnSignal(ctx, log, "api-gateway", cfg.Profiling)
	md, err := gateway.LoadBearerMetadata(cfg.BearerComponent)
	if err != nil {
		return err
	}
	bearer, err := gateway.NewBearer(ctx, md, log)
	if err != nil {
		return err
	}
	sidecar := &url.URL{Scheme: "http", Host: "127.0.0.1:" + cfg.DaprHTTPPort}
	health := httpserver.Health{Log: log, Checks: map[string]httpserver.Check{
		"dapr-sidecar": sidecarReady(sidecar, authn.SidecarClient(cfg.Dapr.Token)),
		"jwks":         bearer.Ready,
	}}
	billingClient, closeBilling, err := billingapi.Dial("127.0.0.1:" + cfg.DaprGRPCPort)
	if err != nil {
		return err
	}
	defer closeBilling()
	h := gateway.Routes(
		gateway.Config{Sidecar: sidecar, DaprAPIToken: cfg.Dapr.Token, AllowedOrigins: cfg.AllowedOrigins,
			TrustedProxies: cfg.TrustedProxies,
			Billing:        &billingapi.Handler{Client: billingClient, AppID: cfg.BillingAppID, DaprAPIToken: cfg.Dapr.Token, Log: log}},
		gateway.Targets{Patients: cfg.PatientAppID, Analytics: cfg.AnalyticsAppID, Auth: cfg.AuthAppID},
		bearer.Middleware, health, log)

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return httpserver.ListenAndServe(ctx, log, net.JoinHostPort(cfg.ListenHost, cfg.Port), h)
	})
	g.Go(func() error { return bearer.Run(ctx) })
	return g.Wait()
}

// sidecarReady checks that the sidecar's outbound side (components, name
// resolution) is up, which is what forwarding needs.
func sidecarReady(sidecar *url.URL, client *http.Client) httpserver.Check {
	u := sidecar.JoinPath("/v1.0/healthz/outbound").String()
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("sidecar outbound health: %s", resp.Status)
		}
		return nil
	}
}
