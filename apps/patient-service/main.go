// Command patient-service keeps the patient registry: it stores patients in
// PostgreSQL, publishes their events through Dapr pub/sub (transactional
// outbox) and opens their billing accounts over gRPC through Dapr.
package main

import (
	"context"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/pms-dapr/pms/apps/patient-service/internal/billingclient"
	"github.com/pms-dapr/pms/apps/patient-service/internal/fhirapi"
	"github.com/pms-dapr/pms/apps/patient-service/internal/patient"
	"github.com/pms-dapr/pms/apps/patient-service/internal/patientapi"
	"github.com/pms-dapr/pms/apps/patient-service/internal/patientdb"
	"github.com/pms-dapr/pms/apps/patient-service/internal/patientevents"
	"github.com/pms-dapr/pms/platform/outbox"
	"github.com/pms-dapr/pms/platform/service"
)

func main() {
	service.Main(service.App[config]{Command: command(), Database: "patient", Migrations: patientdb.Migrations(), Run: run})
}

func run(ctx context.Context, cfg config, p *service.Process) error {
	log := p.Log
	store := patientdb.New(p.DB)
	billing, err := billingclient.New(cfg.Sidecar.GRPC(), cfg.BillingAppID, cfg.Trust.Dapr.Token, cfg.BillingTimeout)
	if err != nil {
		return err
	}
	defer billing.Close()
	svc := patient.NewService(store, billing, log)
	publisher := cfg.Publisher(patientevents.EventType)
	defer publisher.Close()
	relay, err := outbox.Relaying(p.DB, "patientdb", publisher, log, p.Metrics)
	if err != nil {
		return err
	}
	p.Go(relay)
	p.Go(func(ctx context.Context) error { return backfill(ctx, store, log) })
	p.Go(func(ctx context.Context) error {
		return svc.ReconcileBilling(ctx, cfg.ReconcileInterval, 10*time.Second)
	})
	p.Go(func(ctx context.Context) error { return housekeep(ctx, store, log, time.Hour) })
	importer := patient.NewImporter(store, fhirapi.Decoder{MRNSystem: cfg.FHIRMRNSystem}, billing, svc.WakeReconciler, log)
	for range patient.ImportWorkers {
		p.Go(func(ctx context.Context) error { return importer.Run(ctx, 5*time.Second) })
	}
	fhir := func(r chi.Router) {
		fhirapi.Mount(r, svc, importer, fhirapi.Config{BaseURL: cfg.FHIRBaseURL, MRNSystem: cfg.FHIRMRNSystem}, p.Verifier.Middleware, log)
	}
	return p.Serve(ctx, cfg.Port, patientapi.Routes(svc, patientapi.Security{AppAPIToken: cfg.Trust.AppAPIToken, Tokens: p.Verifier}, p.Health, log, fhir))
}
