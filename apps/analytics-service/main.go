// Command analytics-service consumes patient and billing events from the
// Dapr pub/sub topics "patient" and "billing" and serves aggregates over
// them; it parks the events of both dead-letter topics for an admin to
// list, redrive or discard.
package main

import (
	"context"

	"github.com/pms-dapr/pms/apps/analytics-service/internal/analytics"
	"github.com/pms-dapr/pms/apps/analytics-service/internal/analyticsapi"
	"github.com/pms-dapr/pms/apps/analytics-service/internal/analyticsdb"
	"github.com/pms-dapr/pms/apps/analytics-service/internal/deadletter"
	"github.com/pms-dapr/pms/platform/service"
)

func main() {
	service.Main(service.App[config]{Command: command(), Database: "analytics", Migrations: analyticsdb.Migrations(), Run: run})
}

func run(ctx context.Context, cfg config, p *service.Process) error {
	publisher := cfg.Publisher("")
	defer publisher.Close()
	store := analyticsdb.New(p.DB)
	dead := &deadletter.Service{Store: store.DeadLetters(), Publisher: redriver{publisher}}
	lag := consumerLag()
	p.Metrics.MustRegister(lag, deadLetterDepth(dead))
	routes, err := analyticsapi.Routes(lagRecorder{analytics.NewService(store), lag}, dead,
		analyticsapi.Security{AppAPIToken: cfg.Trust.AppAPIToken, Tokens: p.Verifier}, p.Health, p.Log)
	if err != nil {
		return err
	}
	return p.Serve(ctx, cfg.Port, routes)
}
