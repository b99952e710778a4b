// Package requestid gives every request an id that follows it across every
// hop (HTTP headers, gRPC metadata) and onto every log line, beside the id a
// client chose and the W3C trace id the sidecars propagate.
package requestid

import (
	"context"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/google/uuid"
)

// Header carries the request id across services.
const Header = "X-Request-Id"

// Metadata carries the request id across a gRPC hop (gRPC metadata keys
// are lower case).
const Metadata = "x-request-id"

// ClientHeader carries, beside the system's own request id, the one a
// client chose (the gateway never lets a client pick the id that the audit
// trail records).
const ClientHeader = "X-Client-Request-Id"

// Middleware makes sure every request has an id: it keeps a well-formed
// incoming X-Request-Id (so one id follows a request through the gateway and
// the sidecars) or makes a new one, and echoes it in the response.
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := Ensure(r.Header.Get(Header))
		r.Header.Set(Header, id)
		w.Header().Set(Header, id)
		ctx := With(r.Context(), id)
		if c := r.Header.Get(ClientHeader); valid(c) {
			ctx = WithClient(ctx, c)
		}
		if trace := traceID(r.Header.Get("Traceparent")); trace != "" {
			ctx = WithTrace(ctx, trace)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// EdgeMiddleware is Middleware for the system's edge (the gateway): every
// request gets a new id, which the audit trail and every log line carry; a
// well-formed id the client sent is kept beside it (X-Client-Request-Id,
// logged as client_request_id), never in its place.
func EdgeMiddleware(next http.Handler) http.Handler {
	withIDs := Middleware(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Del(ClientHeader)
		if c := r.Header.Get(Header); valid(c) {
			r.Header.Set(ClientHeader, c)
			w.Header().Set(ClientHeader, c)
		}
		r.Header.Set(Header, uuid.NewString())
		withIDs.ServeHTTP(w, r)
	})
}

// traceID extracts the trace id from a W3C traceparent header
// ("00-<32 hex>-<16 hex>-<2 hex>"), or "".
func traceID(traceparent string) string {
	parts := strings.Split(traceparent, "-")
	if len(parts) != 4 || len(parts[1]) != 32 {
		return ""
	}
	if _, err := hex.DecodeString(parts[1]); err != nil {
		return ""
	}
	return parts[1]
}

// Ensure returns id when it is a well-formed request id (up to 128
// letters, digits, '-', '_' or '.'), else a new one.
func Ensure(id string) string {
	if valid(id) {
		return id
	}
	return uuid.NewString()
}

func valid(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, c := range id {
		if !(c == '-' || c == '_' || c == '.' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
			return false
		}
	}
	return true
}

type idKey struct{}

type clientKey struct{}

type traceKey struct{}

// With returns a context carrying id, logged as request_id.
func With(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, idKey{}, id)
}

// From returns the request id carried by ctx, or "".
func From(ctx context.Context) string {
	id, _ := ctx.Value(idKey{}).(string)
	return id
}

// WithClient returns a context carrying the id a client chose for its
// request, logged as client_request_id beside the system's own.
func WithClient(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, clientKey{}, id)
}

// ClientFrom returns the client's own request id carried by ctx, or "".
func ClientFrom(ctx context.Context) string {
	id, _ := ctx.Value(clientKey{}).(string)
	return id
}

// WithTrace returns a context carrying a W3C trace id, logged as trace_id.
func WithTrace(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, traceKey{}, id)
}

// TraceFrom returns the trace id carried by ctx, or "".
func TraceFrom(ctx context.Context) string {
	id, _ := ctx.Value(traceKey{}).(string)
	return id
}
