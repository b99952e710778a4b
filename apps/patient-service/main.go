// Command patient-service keeps the patient registry: it stores patients in
// PostgreSQL, publishes their events through Dapr pub/sub (transactional
// outbox) and opens their billing accounts over gRPC through Dapr.
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

	"github.com/go-chi/chi/v5"
	"golang.org/x/sync/errgroup"

	"github.com/pms-dapr/pms/apps/patient-service/internal/billingclient"
	"github.com/pms-dapr/pms/apps/patient-service/internal/fhirapi"
	"github.com/pms-dapr/pms/apps/patient-service/internal/patient"
	"github.com/pms-dapr/pms/apps/patient-service/internal/patientapi"
	"github.com/pms-dapr/pms/apps/patient-service/internal/patientdb"
	"github.com/pms-dapr/pms/apps/patient-service/internal/patientevents"
	"github.com/pms-dapr/pms/platform/appconfig"
	"github.com/pms-dapr/pms/platform/authn"
	"github.com/pms-dapr/pms/platform/httpserver"
	"github.com/pms-dapr/pms/platform/metrics"
	"github.com/pms-dapr/pms/platform/outbox"
	"github.com/pms-dapr/pms/platform/pgdb"
	"github.com/pms-dapr/pms/platform/service"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if appconfig.HandleHelp(os.Args, os.Stdout, command()) {
		return
	}
	log := service.NewLogger("patient-service")
	// `patient-service migrate` is the separate migration step, as the database owner.
	if err := pgdb.RunOrMigrate(ctx, log, "patient", patientdb.Migrations(), run); err != nil {
		log.Error("patient-service stopped with an error", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger) error {
	var cfg config
	if err := appconfig.Load(ctx, &cfg); err != nil {
		return err
	}
	log.Info("configuration", appconfig.LogAttrs(cfg)...)
	service.ProfileOnSignal(ctx, log, "patient-service", cfg.Profiling)
	pool, err := pgdb.Connect(ctx, log, cfg.Database, patientdb.Migrations(), time.Minute)
	if err != nil {
		return err
	}
	defer pool.Close()
	store := patientdb.New(pool)
	sidecarURL := "http://127.0.0.1:" + cfg.DaprHTTPPort
	verifier, err := authn.NewVerifierFor(ctx, sidecarURL, cfg.Trust, log)
	if err != nil {
		return err
	}

	billing, err := billingclient.New("127.0.0.1:"+cfg.DaprGRPCPort, cfg.BillingAppID, cfg.Trust.Dapr.Token, cfg.BillingTimeout)
	if err != nil {
		return err
	}
	defer billing.Close()
	svc := patient.NewService(store, billing, log)

	publisher := &outbox.DaprPublisher{
		Address:   "127.0.0.1:" + cfg.DaprGRPCPort,
		PubSub:    cfg.PubSubName,
		APIToken:  cfg.Trust.Dapr.Token,
		EventType: patientevents.EventType,
	}
	defer publisher.Close()
	// The relay is woken by each committed registration or change
	// (LISTEN/NOTIFY) and polls only as a fallback.
	wake := make(chan struct{}, 1)
	events := outbox.PG{Pool: pool, Name: "patientdb"}
	reg := metrics.NewRegistry()
	reg.MustRegister(events.Metrics())
	if err := metrics.Serve(ctx, log, cfg.Metrics.Addr, reg); err != nil {
		return err
	}
	relay := &outbox.Relay{
		Store:     events,
		Publisher: publisher,
		Log:       log.With("component", "outbox"),
		Wake:      wake,
		Interval:  time.Second,
		MaxWait:   10 * time.Second,
	}
	health := httpserver.Health{Log: log, Checks: map[string]httpserver.Check{"database": pool.Ping, "jwks": verifier.Ready}}

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		fhirCfg := fhirapi.Config{BaseURL: cfg.FHIRBaseURL, MRNSystem: cfg.FHIRMRNSystem}
		return httpserver.ListenAndServe(ctx, log, net.JoinHostPort(cfg.ListenHost, cfg.Port),
			patientapi.Routes(svc, patientapi.Security{AppAPIToken: cfg.Trust.AppAPIToken, Tokens: verifier}, health, log,
				func(r chi.Router) { fhirapi.Mount(r, svc, fhirCfg, verifier.Middleware, log) }))
	})
	g.Go(func() error {
		// Rows from before the current search keys get them.
		if n, err := store.BackfillSearchKeys(ctx); err != nil {
			log.Warn("search keys not filled in; name searches miss older records until the next start", "err", err)
		} else if n > 0 {
			log.Info("search keys filled in", "patients", n)
		}
		return nil
	})
	g.Go(func() error { return events.Watch(ctx, log.With("component", "outbox"), wake) })
	g.Go(func() error { return relay.Run(ctx) })
	g.Go(func() error { return svc.ReconcileBilling(ctx, cfg.ReconcileInterval, 10*time.Second) })
	g.Go(func() error { return housekeep(ctx, store, log, time.Hour) })
	if err := g.Wait(); err != nil {
		return fmt.Errorf("patient-service: %w", err)
	}
	return nil
}

// housekeep prunes expired idempotency keys and old published events every
// interval until ctx ends. A failure is logged and retried next time.
func housekeep(ctx context.Context, store *patientdb.Store, log *slog.Logger, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		keys, events, err := store.Housekeep(ctx, time.Now())
		if err != nil && ctx.Err() == nil {
			log.Warn("housekeeping failed", "err", err)
		} else if keys+events > 0 {
			log.Info("housekeeping", "idempotency_keys_removed", keys, "sent_events_removed", events)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
