// Command analytics-service consumes patient events from the Dapr pub/sub
// topic "patient" and serves aggregates over them.
package main

import (
	"context"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pms-dapr/pms/apps/analytics-service/internal/analytics"
	"github.com/pms-dapr/pms/apps/analytics-service/internal/analyticsapi"
	"github.com/pms-dapr/pms/apps/analytics-service/internal/analyticsdb"
	"github.com/pms-dapr/pms/apps/analytics-service/internal/deadletter"
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
	log := service.NewLogger("analytics-service")
	// `analytics-service migrate` is the separate migration step, as the database owner.
	if err := pgdb.RunOrMigrate(ctx, log, "analytics", analyticsdb.Migrations(), run); err != nil {
		log.Error("analytics-service stopped with an error", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger) error {
	var cfg config
	if err := appconfig.Load(ctx, &cfg); err != nil {
		return err
	}
	log.Info("configuration", appconfig.LogAttrs(cfg)...)
	service.ProfileOnSignal(ctx, log, "analytics-service", cfg.Profiling)
	pool, err := pgdb.Connect(ctx, log, cfg.Database, analyticsdb.Migrations(), time.Minute)
	if err != nil {
		return err
	}
	defer pool.Close()
	sidecarURL := "http://127.0.0.1:" + cfg.DaprHTTPPort
	verifier, err := authn.NewVerifierFor(ctx, sidecarURL, cfg.Trust, log)
	if err != nil {
		return err
	}
	health := httpserver.Health{Log: log, Checks: map[string]httpserver.Check{"database": pool.Ping, "jwks": verifier.Ready}}
	publisher := &outbox.DaprPublisher{Address: "127.0.0.1:" + cfg.DaprGRPCPort, PubSub: cfg.PubSubName, APIToken: cfg.Trust.Dapr.Token}
	defer publisher.Close()
	store := analyticsdb.New(pool)
	svc := analytics.NewService(store)
	dead := &deadletter.Service{Store: store.DeadLetters(), Publisher: redriver{publisher}}
	reg := metrics.NewRegistry()
	lag := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "pms_consumer_lag_seconds",
		Help:    "Time from an event's occurrence to analytics storing it, by topic.",
		Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800}}, []string{"topic"})
	reg.MustRegister(lag, deadLetterDepth(dead))
	if err := metrics.Serve(ctx, log, cfg.Metrics.Addr, reg); err != nil {
		return err
	}
	routes, err := analyticsapi.Routes(lagRecorder{svc, lag}, dead, analyticsapi.Security{AppAPIToken: cfg.Trust.AppAPIToken, Tokens: verifier}, health, log)
	if err != nil {
		return err
	}
	return httpserver.ListenAndServe(ctx, log, net.JoinHostPort(cfg.ListenHost, cfg.Port), routes)
}

// redriver sends a dead letter back to its topic through the sidecar, as
// it was first published: its CloudEvent id and type, its partition key.
type redriver struct{ p *outbox.DaprPublisher }

func (r redriver) Redrive(ctx context.Context, l deadletter.Letter) error {
	return r.p.Publish(ctx, outbox.Message{EventID: l.CloudEventID, Topic: l.Topic, Key: l.PartitionKey,
		Payload: string(l.Data), Type: l.Type})
}

// lagRecorder observes each newly stored event's consumer lag.
type lagRecorder struct {
	*analytics.Service
	lag *prometheus.HistogramVec
}

func (r lagRecorder) RecordAll(ctx context.Context, evs []analytics.Event) []analytics.Result {
	res := r.Service.RecordAll(ctx, evs)
	observeLag(r.lag.WithLabelValues("patient"), evs, res, func(ev analytics.Event) time.Time { return ev.OccurredAt })
	return res
}

func (r lagRecorder) RecordAllBilling(ctx context.Context, evs []analytics.BillingEvent) []analytics.Result {
	res := r.Service.RecordAllBilling(ctx, evs)
	observeLag(r.lag.WithLabelValues("billing"), evs, res, func(ev analytics.BillingEvent) time.Time { return ev.OccurredAt })
	return res
}

// observeLag observes how long each event stored for the first time took
// from its occurrence.
func observeLag[E any](lag prometheus.Observer, evs []E, res []analytics.Result, occurred func(E) time.Time) {
	for i, x := range res {
		if x.Err == nil && x.New {
			lag.Observe(time.Since(occurred(evs[i])).Seconds())
		}
	}
}

// deadLetterDepth reads the pending dead letters per topic at each scrape.
func deadLetterDepth(dead *deadletter.Service) *metrics.Gauges {
	return metrics.NewGauges(func(ctx context.Context) ([]metrics.Value, error) {
		depth, err := dead.Depth(ctx)
		if err != nil {
			return nil, err
		}
		out := make([]metrics.Value, 0, len(depth))
		for topic, n := range depth {
			out = append(out, metrics.Value{Name: "pms_dead_letters", Labels: []string{topic}, V: float64(n)})
		}
		return out, nil
	}, metrics.Gauge{Name: "pms_dead_letters", Help: "Dead-lettered events not yet redriven, by original topic.", Labels: []string{"topic"}})
}
