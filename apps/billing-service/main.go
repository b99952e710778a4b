// Command billing-service owns billing accounts and their ledgers and serves
// them over gRPC (pms.billing.v1.BillingService), reached through Dapr gRPC
// proxying. It closes a patient's account when patient-service publishes
// the patient's deletion, and publishes its own changes on topic "billing"
// through an outbox.
package main

import (
	"context"
	"fmt"
	"net"

	"github.com/pms-dapr/pms/apps/billing-service/internal/billing"
	"github.com/pms-dapr/pms/apps/billing-service/internal/billingdb"
	"github.com/pms-dapr/pms/apps/billing-service/internal/billingevents"
	"github.com/pms-dapr/pms/apps/billing-service/internal/billinggrpc"
	"github.com/pms-dapr/pms/platform/outbox"
	"github.com/pms-dapr/pms/platform/service"
)

func main() {
	service.Main(service.App[config]{Command: command(), Database: "billing", Migrations: billingdb.Migrations(), Run: run})
}

func run(ctx context.Context, cfg config, p *service.Process) error {
	svc, err := billing.NewService(billingdb.New(p.DB), cfg.DefaultCurrency)
	if err != nil {
		return err
	}
	// Listening before the relay starts: a port in use fails the start.
	lis, err := net.Listen("tcp", net.JoinHostPort(cfg.ListenHost, cfg.Port))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	publisher := cfg.Publisher(billingevents.CloudEventType)
	defer publisher.Close()
	relay, err := outbox.Relaying(p.DB, "billingdb", publisher, p.Log, p.Metrics)
	if err != nil {
		return err
	}
	p.Go(relay)
	p.Go(func(ctx context.Context) error {
		return billinggrpc.Serve(ctx, lis, svc, billinggrpc.Options{AppAPIToken: cfg.Trust.AppAPIToken,
			Tokens: p.Verifier, PubSubName: cfg.PubSubName, Log: p.Log, Metrics: p.Metrics})
	})
	return p.Serve(ctx, cfg.HealthPort, p.Health.Handler())
}
