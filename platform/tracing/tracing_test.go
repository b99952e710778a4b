package tracing_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/pms-dapr/pms/platform/tracing"
)

const forged = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// record makes this test's spans land in a recorder, as if exported.
func record(t *testing.T) *tracetest.SpanRecorder {
	t.Setenv(tracing.EndpointVar, "http://127.0.0.1:1")
	rec := tracetest.NewSpanRecorder()
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() { otel.SetTracerProvider(prev) })
	return rec
}

// edge is a gateway-like router behind EdgeMiddleware that reports the
// trace context it would send on.
func edge(trusted func(*http.Request) bool, sent *http.Header) http.Handler {
	r := chi.NewRouter()
	r.Use(tracing.EdgeMiddleware(trusted))
	r.Get("/patients/{id}", func(w http.ResponseWriter, r *http.Request) {
		out, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, "http://sidecar/x", nil)
		out.Header = r.Header.Clone()
		rt := tracing.Transport(roundTripper(func(req *http.Request) (*http.Response, error) {
			*sent = req.Header.Clone()
			return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: req}, nil
		}))
		resp, err := rt.RoundTrip(out)
		if err == nil {
			resp.Body.Close()
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return r
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A client's traceparent, tracestate and baggage never reach the trace:
// the gateway's span is a root of a new trace, named by its route
// template, and what it sends on carries that trace alone.
func TestAClientsTraceContextNeverBecomesTheParent(t *testing.T) {
	rec := record(t)
	var sent http.Header
	req := httptest.NewRequest(http.MethodGet, "/patients/1f0e", nil)
	req.Header.Set("Traceparent", forged)
	req.Header.Set("Tracestate", "vendor=forged")
	req.Header.Set("Baggage", "user=mallory")
	w := httptest.NewRecorder()
	edge(nil, &sent).ServeHTTP(w, req)

	spans := rec.Ended()
	require.NotEmpty(t, spans)
	var server sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.Name() == "GET /patients/{id}" {
			server = s
		}
	}
	require.NotNil(t, server, "the server span is named by its route template")
	assert.False(t, server.Parent().IsValid(), "a root span")
	assert.NotEqual(t, "4bf92f3577b34da6a3ce929d0e0e4736", server.SpanContext().TraceID().String())
	assert.Contains(t, sent.Get("Traceparent"), server.SpanContext().TraceID().String(), "the new trace goes on")
	assert.Empty(t, sent.Get("Tracestate"))
	assert.Empty(t, sent.Get("Baggage"))
	assert.True(t, strings.HasPrefix(w.Header().Get("Traceresponse"), "00-"+server.SpanContext().TraceID().String()+"-"))
}

// A trusted proxy may continue its trace.
func TestATrustedProxyContinuesItsTrace(t *testing.T) {
	rec := record(t)
	var sent http.Header
	req := httptest.NewRequest(http.MethodGet, "/patients/1f0e", nil)
	req.Header.Set("Traceparent", forged)
	edge(func(*http.Request) bool { return true }, &sent).ServeHTTP(httptest.NewRecorder(), req)
	var found bool
	for _, s := range rec.Ended() {
		if s.Name() == "GET /patients/{id}" {
			found = true
			assert.Equal(t, "00f067aa0ba902b7", s.Parent().SpanID().String())
			assert.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", s.SpanContext().TraceID().String())
		}
	}
	assert.True(t, found)
}

// An outbox row's traceparent names its change's span; read back, it is
// that span's context.
func TestTraceParentRoundTrips(t *testing.T) {
	record(t)
	ctx, span := tracing.StartSpan(context.Background(), "change")
	defer span.End()
	tp := tracing.TraceParent(ctx)
	require.NotEmpty(t, tp)
	_, child := tracing.StartSpan(tracing.FromTraceParent(context.Background(), tp), "consume")
	defer child.End()
	ro := child.(sdktrace.ReadOnlySpan)
	assert.Equal(t, span.SpanContext().SpanID(), ro.Parent().SpanID())
	assert.Empty(t, tracing.TraceParent(context.Background()))
	assert.Nil(t, tracing.LinkTo("not a traceparent"))
	assert.Len(t, tracing.LinkTo(tp), 1)
}

// Health probes are not traced.
func TestProbesAreNotTraced(t *testing.T) {
	rec := record(t)
	r := chi.NewRouter()
	r.Use(tracing.Middleware)
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	r.Get("/patients", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/healthz", nil))
	assert.Empty(t, rec.Ended())
	r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/patients", nil))
	require.Len(t, rec.Ended(), 1)
	assert.Equal(t, "GET /patients", rec.Ended()[0].Name())
}
