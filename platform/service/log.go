// Package service is every service's entry point: Main does what each
// service does before its own work (the command line, configuration,
// logging, profiling, the database, the token verifier, health, signal
// handling) and Process serves the service and its background tasks. It
// holds the configuration blocks services share, the JSON logger that tags
// each line with the app and the request's ids, and CPU profiles on a
// signal for benchmarks.
package service

import (
	"context"
	"io"
	"log/slog"
	"os"

	"go.opentelemetry.io/otel/trace"

	"github.com/pms-dapr/pms/platform/requestid"
)

// NewLogger returns a JSON logger tagged with the app id. Every line written
// through a request's context also carries that request's id and, when the
// sidecar propagated one, its trace id.
func NewLogger(app string) *slog.Logger { return NewLoggerTo(os.Stdout, app) }

// NewLoggerTo is NewLogger writing to w.
func NewLoggerTo(w io.Writer, app string) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo})
	return slog.New(requestIDHandler{h}).With("app", app)
}

type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := requestid.From(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	if id := requestid.ClientFrom(ctx); id != "" {
		r.AddAttrs(slog.String("client_request_id", id))
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	} else if id := requestid.TraceFrom(ctx); id != "" {
		r.AddAttrs(slog.String("trace_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(a)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}
