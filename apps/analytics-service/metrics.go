package main

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pms-dapr/pms/apps/analytics-service/internal/analytics"
	"github.com/pms-dapr/pms/apps/analytics-service/internal/deadletter"
	"github.com/pms-dapr/pms/platform/metrics"
)

// consumerLag is pms_consumer_lag_seconds, by topic.
func consumerLag() *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "pms_consumer_lag_seconds",
		Help:    "Time from an event's occurrence to analytics storing it, by topic.",
		Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800}}, []string{"topic"})
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
