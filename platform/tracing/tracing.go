// Package tracing is every service's part of one trace per request
// (OpenTelemetry, W3C trace context): the tracer provider, off unless
// OTEL_EXPORTER_OTLP_ENDPOINT is set (the OpenTelemetry convention), with
// the sampler the standard variables choose (OTEL_TRACES_SAMPLER,
// OTEL_TRACES_SAMPLER_ARG; parent-based, every trace, by default); the
// HTTP and gRPC instrumentation; database spans (a pgx tracer); and the
// traceparent an event carries through the outbox.
//
// Only the W3C traceparent and tracestate cross a hop: baggage is neither
// read nor sent, so nothing a client puts there travels further.
package tracing

import (
	"context"
	"errors"
	"os"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// EndpointVar names the OTLP endpoint (http://host:4317: OTLP over gRPC);
// unset, nothing is traced.
const EndpointVar = "OTEL_EXPORTER_OTLP_ENDPOINT"

// Enabled reports whether this process exports traces.
func Enabled() bool {
	return os.Getenv(EndpointVar) != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// Start sets up tracing for the process named app (its service.name) and
// returns what flushes and stops it. Without an endpoint it only sets the
// W3C propagator, so a traceparent the sidecar sends still names the trace
// on log lines.
func Start(ctx context.Context, app string) (shutdown func(context.Context) error, err error) {
	otel.SetTextMapPropagator(propagation.TraceContext{})
	if !Enabled() {
		return func(context.Context) error { return nil }, nil
	}
	exp, err := otlptracegrpc.New(ctx)
	if err != nil {
		return nil, errors.Join(errors.New("tracing: the OTLP exporter"), err)
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(attribute.String("service.name", app)))
	if err != nil {
		return nil, err
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(encodable{exp}), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	return tp.Shutdown, nil
}

// tracer is the project's own instrumentation scope.
func tracer() trace.Tracer { return otel.Tracer("github.com/pms-dapr/pms") }

// StartSpan starts a span of the project's own (an event's consumer, a
// relay round) as a child of ctx's.
func StartSpan(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	return tracer().Start(ctx, name, opts...)
}

// TraceParent is the W3C traceparent of ctx's span, or "" when ctx has
// none: what an outbox row keeps so its event continues the trace of the
// change that wrote it.
func TraceParent(ctx context.Context) string {
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, carrier)
	return carrier["traceparent"]
}

// FromTraceParent is ctx with the remote span context traceparent names as
// its parent (ctx unchanged when traceparent is not a valid one).
func FromTraceParent(ctx context.Context, traceparent string) context.Context {
	if traceparent == "" {
		return ctx
	}
	return propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{"traceparent": traceparent})
}

// LinkTo is a link to the span traceparent names (none when it is not a
// valid one): a redrive's span links the trace its event started in.
func LinkTo(traceparent string) []trace.Link {
	sc := trace.SpanContextFromContext(FromTraceParent(context.Background(), traceparent))
	if !sc.IsValid() {
		return nil
	}
	return []trace.Link{{SpanContext: sc}}
}
