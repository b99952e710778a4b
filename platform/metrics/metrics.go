// Package metrics serves an app's Prometheus metrics on a listener of
// their own (METRICS_ADDR, loopback by default), apart from the API its
// sidecar calls: a scraper needs no app token, and reads no PHI there.
// docs/operations/monitoring.md lists each metric with its alert threshold.
package metrics

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Config is where the metrics are served.
type Config struct {
	Addr string `env:"METRICS_ADDR" help:"host:port serving Prometheus metrics at /metrics (requests by route, and each service's own: docs/operations/monitoring.md); empty serves none."`
}

// NewRegistry has the Go runtime and process collectors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Serve serves reg at addr/metrics until ctx ends; an empty addr serves
// nothing. It returns once listening (or on a listen error).
func Serve(ctx context.Context, log *slog.Logger, addr string, reg *prometheus.Registry) error {
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Timeout: 10 * time.Second}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 15 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "err", err)
		}
	}()
	log.Info("metrics", "addr", ln.Addr().String())
	return nil
}

// Gauges is a collector reading its values at each scrape (a database
// query, say) within a deadline; a failed read is reported to the scraper
// as an error, never as a zero.
type Gauges struct {
	descs map[string]*prometheus.Desc
	read  func(ctx context.Context) ([]Value, error)
}

// Value is one sample of a Gauge.
type Value struct {
	Name   string
	Labels []string
	V      float64
}

// Gauge describes one gauge of a Gauges collector.
type Gauge struct {
	Name, Help string
	Labels     []string
}

// NewGauges describes gauges and reads their values with read.
func NewGauges(read func(ctx context.Context) ([]Value, error), gauges ...Gauge) *Gauges {
	g := &Gauges{descs: map[string]*prometheus.Desc{}, read: read}
	for _, spec := range gauges {
		g.descs[spec.Name] = prometheus.NewDesc(spec.Name, spec.Help, spec.Labels, nil)
	}
	return g
}

func (g *Gauges) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range g.descs {
		ch <- d
	}
}

func (g *Gauges) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	values, err := g.read(ctx)
	if err != nil {
		for _, d := range g.descs {
			ch <- prometheus.NewInvalidMetric(d, err)
		}
		return
	}
	for _, v := range values {
		if d, ok := g.descs[v.Name]; ok {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v.V, v.Labels...)
		}
	}
}
