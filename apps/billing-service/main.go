// Command billing-service owns billing accounts and their ledgers and serves
// them over gRPC (pms.billing.v1.BillingService), reached through Dapr gRPC
// proxying. It closes a patient's account when patient-service publishes
// the patient's deletion, and publishes its own changes on topic "billing"
// through an outbox.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	daprgrpc "github.com/dapr/go-sdk/service/grpc"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/pms-dapr/pms/apps/billing-service/internal/billing"
	"github.com/pms-dapr/pms/apps/billing-service/internal/billingdb"
	"github.com/pms-dapr/pms/apps/billing-service/internal/billingevents"
	"github.com/pms-dapr/pms/apps/billing-service/internal/billinggrpc"
	"github.com/pms-dapr/pms/platform/appconfig"
	"github.com/pms-dapr/pms/platform/authn"
	"github.com/pms-dapr/pms/platform/httpserver"
	"github.com/pms-dapr/pms/platform/metrics"
	"github.com/pms-dapr/pms/platform/outbox"
	"github.com/pms-dapr/pms/platform/pgdb"
	"github.com/pms-dapr/pms/platform/service"
	billingv1 "github.com/pms-dapr/pms/proto/billing/v1"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if appconfig.HandleHelp(os.Args, os.Stdout, command()) {
		return
	}
	log := service.NewLogger("billing-service")
	// `billing-service migrate` is the separate migration step, as the database owner.
	if err := pgdb.RunOrMigrate(ctx, log, "billing", billingdb.Migrations(), run); err != nil {
		log.Error("billing-service stopped with an error", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger) error {
	var cfg config
	if err := appconfig.Load(ctx, &cfg); err != nil {
		return err
	}
	log.Info("configuration", appconfig.LogAttrs(cfg)...)
	service.ProfileOnSignal(ctx, log, "billing-service", cfg.Profiling)
	pool, err := pgdb.Connect(ctx, log, cfg.Database, billingdb.Migrations(), time.Minute)
	if err != nil {
		return err
	}
	defer pool.Close()
	store := billingdb.New(pool)
	svc, err := billing.NewService(store, cfg.DefaultCurrency)
	if err != nil {
		return err
	}
	verifier, err := authn.NewVerifierFor(ctx, "http://127.0.0.1:"+cfg.DaprHTTPPort, cfg.Trust, log)
	if err != nil {
		return err
	}

	grpcSrv := grpc.NewServer(grpc.ChainUnaryInterceptor(billinggrpc.RequestIDs,
		billinggrpc.RequireAppToken(cfg.Trust.AppAPIToken), billinggrpc.Authenticate(verifier)))
	billingv1.RegisterBillingServiceServer(grpcSrv, billinggrpc.NewServer(svc, log))
	grpcHealth := health.NewServer()
	healthpb.RegisterHealthServer(grpcSrv, grpcHealth)
	lis, err := net.Listen("tcp", net.JoinHostPort(cfg.ListenHost, cfg.Port))
	if err != nil {
		return fmt.Errorf("billing-service: listen: %w", err)
	}
	// Dapr's app callbacks (pub/sub deliveries) on the same server, through
	// the Go SDK, which lists the subscription to the sidecar.
	callbacks := daprgrpc.NewServiceWithGrpcServer(lis, grpcSrv)
	if err := callbacks.AddTopicEventHandler(billinggrpc.PatientSubscription(cfg.PubSubName), billinggrpc.PatientEvents(svc, log)); err != nil {
		return fmt.Errorf("billing-service: %w", err)
	}

	publisher := &outbox.DaprPublisher{Address: "127.0.0.1:" + cfg.DaprGRPCPort, PubSub: cfg.PubSubName,
		APIToken: cfg.Trust.Dapr.Token, EventType: billingevents.CloudEventType}
	defer publisher.Close()
	wake := make(chan struct{}, 1)
	events := outbox.PG{Pool: pool, Name: "billingdb"}
	reg := metrics.NewRegistry()
	reg.MustRegister(events.Metrics())
	if err := metrics.Serve(ctx, log, cfg.Metrics.Addr, reg); err != nil {
		return err
	}
	relay := &outbox.Relay{Store: events, Publisher: publisher, Log: log.With("component", "outbox"),
		Wake: wake, Interval: time.Second, MaxWait: 10 * time.Second}

	checks := httpserver.Health{Log: log, Checks: map[string]httpserver.Check{"database": pool.Ping, "jwks": verifier.Ready}}

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		log.Info("grpc server listening", "addr", lis.Addr().String())
		return grpcSrv.Serve(lis)
	})
	g.Go(func() error {
		<-ctx.Done()
		grpcHealth.Shutdown()
		stopped := make(chan struct{})
		go func() { grpcSrv.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(httpserver.ShutdownTimeout):
			grpcSrv.Stop()
		}
		return nil
	})
	g.Go(func() error {
		return httpserver.ListenAndServe(ctx, log, net.JoinHostPort(cfg.ListenHost, cfg.HealthPort), checks.Handler())
	})
	g.Go(func() error { return events.Watch(ctx, log.With("component", "outbox"), wake) })
	g.Go(func() error { return relay.Run(ctx) })
	if err := g.Wait(); err != nil {
		return fmt.Errorf("billing-service: %w", err)
	}
	return nil
}
