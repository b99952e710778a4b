package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// GRPC counts and times the unary calls a gRPC server serves, by full
// method name and status code: pms_grpc_requests_total and
// pms_grpc_request_duration_seconds (the HTTP metrics' counterparts; the
// method set is the server's own, so it cannot grow without bound).
func GRPC(reg prometheus.Registerer) (grpc.UnaryServerInterceptor, error) {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pms_grpc_requests_total",
		Help: "gRPC calls served, by method and status code."}, []string{"method", "code"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "pms_grpc_request_duration_seconds",
		Help:    "Time to serve a gRPC call, by method.",
		Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}}, []string{"method"})
	for _, c := range []prometheus.Collector{requests, duration} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := next(ctx, req)
		requests.WithLabelValues(info.FullMethod, status.Code(err).String()).Inc()
		duration.WithLabelValues(info.FullMethod).Observe(time.Since(start).Seconds())
		return resp, err
	}, nil
}
