package tracing

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Middleware traces each request a service serves, as a child of the
// traceparent its caller (its sidecar) sent. The span is named by the
// route's template, never the raw path (which holds ids).
func Middleware(next http.Handler) http.Handler {
	if !Enabled() {
		return next
	}
	return otelhttp.NewHandler(named(next), "http.server", otelhttp.WithFilter(notProbe),
		otelhttp.WithSpanNameFormatter(spanName))
}

// EdgeMiddleware is Middleware for the system's edge (the gateway): each
// request starts a new trace, whatever trace context a client sent (it is
// dropped, never the parent), unless trusted says the request came from a
// proxy allowed to continue its own trace. A sampled trace's id goes back to
// the client in Traceresponse (W3C Trace Context Level 2), for a support
// request to name.
func EdgeMiddleware(trusted func(*http.Request) bool) func(http.Handler) http.Handler {
	untrusted := func(r *http.Request) bool { return trusted == nil || !trusted(r) }
	return func(next http.Handler) http.Handler {
		h := next
		if Enabled() {
			h = otelhttp.NewHandler(answered(named(next)), "http.server", otelhttp.WithPublicEndpointFn(untrusted), otelhttp.WithFilter(notProbe),
				otelhttp.WithSpanNameFormatter(spanName))
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if untrusted(r) {
				for _, name := range []string{"Traceparent", "Tracestate", "Baggage"} {
					r.Header.Del(name)
				}
			}
			h.ServeHTTP(w, r)
		})
	}
}

// notProbe leaves health probes untraced: they come every few seconds and
// say nothing about a request.
func notProbe(r *http.Request) bool {
	return r.URL.Path != "/healthz" && r.URL.Path != "/readyz"
}

// answered sends the trace's id back in Traceresponse when it is sampled.
func answered(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sc := trace.SpanContextFromContext(r.Context()); sc.IsSampled() {
			w.Header().Set("Traceresponse", "00-"+sc.TraceID().String()+"-"+sc.SpanID().String()+"-01")
		}
		next.ServeHTTP(w, r)
	})
}

// named names the request's span by its route template once the router
// has matched it ("GET /patients/{id}").
func named(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r)
		span := trace.SpanFromContext(r.Context())
		if !span.IsRecording() {
			return
		}
		if pattern := route(r); pattern != "" {
			span.SetName(spanName("", r))
			span.SetAttributes(attribute.String("http.route", pattern))
		}
	})
}

// spanName is a request's span name: its method and, once routed, its
// route template.
func spanName(_ string, r *http.Request) string {
	if pattern := route(r); pattern != "" {
		return r.Method + " " + pattern
	}
	return r.Method
}

// route is the template of the route chi matched, or "".
func route(r *http.Request) string {
	if rc := chi.RouteContext(r.Context()); rc != nil {
		return rc.RoutePattern()
	}
	return ""
}

// Transport traces each call made through rt and sends its traceparent.
func Transport(rt http.RoundTripper) http.RoundTripper {
	if !Enabled() {
		return injecting{rt}
	}
	return otelhttp.NewTransport(rt)
}

// injecting sends the current traceparent without a span of its own (when
// this process exports no traces, its callers' trace still continues).
type injecting struct{ rt http.RoundTripper }

func (t injecting) RoundTrip(r *http.Request) (*http.Response, error) {
	if tp := TraceParent(r.Context()); tp != "" {
		r = r.Clone(r.Context())
		r.Header.Set("Traceparent", tp)
	}
	rt := t.rt
	if rt == nil {
		rt = http.DefaultTransport
	}
	return rt.RoundTrip(r)
}
