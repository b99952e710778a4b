package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
)

// HTTP counts and times the requests h serves, by method, route template
// (never the raw path, which holds ids: an unmatched path counts as
// "unmatched") and status code: pms_http_requests_total and
// pms_http_request_duration_seconds. h is a chi router (the route comes
// from the routing context this installs).
func HTTP(reg prometheus.Registerer, h http.Handler) (http.Handler, error) {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pms_http_requests_total",
		Help: "HTTP requests served, by method, route template and status code."}, []string{"method", "route", "code"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "pms_http_request_duration_seconds",
		Help:    "Time to serve an HTTP request, by method and route template.",
		Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}}, []string{"method", "route"})
	for _, c := range []prometheus.Collector{requests, duration} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		// The router fills in this routing context instead of one of its
		// own, so its route template can be read once it has served.
		rctx := chi.NewRouteContext()
		r = r.WithContext(context.WithValue(r.Context(), chi.RouteCtxKey, rctx))
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		route := rctx.RoutePattern()
		if route == "" {
			route = "unmatched"
		}
		method := r.Method
		switch method {
		case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		default:
			method = "other" // a label per made-up method would grow without bound
		}
		requests.WithLabelValues(method, route, strconv.Itoa(sw.status)).Inc()
		duration.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
	}), nil
}

// statusWriter remembers the final status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
