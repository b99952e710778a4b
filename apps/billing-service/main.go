// Command billing-service owns billing accounts and serves them over gRPC
// (pms.billing.v1.BillingService), reached through Dapr gRPC proxying.
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

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/pms-dapr/pms/apps/billing-service/internal/billing"
	"github.com/pms-dapr/pms/apps/billing-service/internal/billingdb"
	"github.com/pms-dapr/pms/apps/billing-service/internal/billinggrpc"
	"github.com/pms-dapr/pms/platform/appconfig"
	"github.com/pms-dapr/pms/platform/httpserver"
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
	svc := billing.NewService(billingdb.New(pool))

	grpcSrv := grpc.NewServer(grpc.ChainUnaryInterceptor(billinggrpc.RequestIDs, billinggrpc.RequireAppToken(cfg.AppAPIToken)))
	billingv1.RegisterBillingServiceServer(grpcSrv, billinggrpc.NewServer(svc, log))
	grpcHealth := health.NewServer()
	healthpb.RegisterHealthServer(grpcSrv, grpcHealth)
	lis, err := net.Listen("tcp", net.JoinHostPort(cfg.ListenHost, cfg.Port))
	if err != nil {
		return fmt.Errorf("billing-service: listen: %w", err)
	}

	checks := httpserver.Health{Log: log, Checks: map[string]httpserver.Check{"database": pool.Ping}}

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
	if err := g.Wait(); err != nil {
		return fmt.Errorf("billing-service: %w", err)
	}
	return nil
}
