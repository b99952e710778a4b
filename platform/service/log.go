// Package service holds the run loop every service shares: JSON logging,
// request ids, health endpoints and an HTTP server that shuts down gracefully
// when its context ends.
package service

import (
	"context"
	"io"
	"log/slog"
	"os"
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

type ctxKey struct{}

type traceKey struct{}

// WithTraceID returns a context carrying a W3C trace id, logged as trace_id.
func WithTraceID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, traceKey{}, id)
}

// WithRequestID returns a context carrying id, logged as request_id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

type clientKey struct{}

// WithClientRequestID returns a context carrying the id a client chose
// for its request, logged as client_request_id beside the system's own.
func WithClientRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, clientKey{}, id)
}

// ClientRequestID returns the client's own request id carried by ctx, or "".
func ClientRequestID(ctx context.Context) string {
	id, _ := ctx.Value(clientKey{}).(string)
	return id
}

// RequestID returns the request id carried by ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	if id := ClientRequestID(ctx); id != "" {
		r.AddAttrs(slog.String("client_request_id", id))
	}
	if id, _ := ctx.Value(traceKey{}).(string); id != "" {
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
