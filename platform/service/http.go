package service

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
)

// RequestIDHeader carries the request id across services.
const RequestIDHeader = "X-Request-Id"

// RequestIDMetadata carries the request id across a gRPC hop (gRPC metadata
// keys are lower case).
const RequestIDMetadata = "x-request-id"

// ClientRequestIDHeader carries, beside the system's own request id, the
// one a client chose (the gateway never lets a client pick the id that
// the audit trail records).
const ClientRequestIDHeader = "X-Client-Request-Id"

// RequestIDs makes sure every request has an id: it keeps a well-formed
// incoming X-Request-Id (so one id follows a request through the gateway and
// the sidecars) or makes a new one, and echoes it in the response.
func RequestIDs(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := EnsureRequestID(r.Header.Get(RequestIDHeader))
		r.Header.Set(RequestIDHeader, id)
		w.Header().Set(RequestIDHeader, id)
		ctx := WithRequestID(r.Context(), id)
		if c := r.Header.Get(ClientRequestIDHeader); validRequestID(c) {
			ctx = WithClientRequestID(ctx, c)
		}
		if trace := traceID(r.Header.Get("Traceparent")); trace != "" {
			ctx = WithTraceID(ctx, trace)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// EdgeRequestIDs is RequestIDs for the system's edge (the gateway): every
// request gets a new id, which the audit trail and every log line carry; a
// well-formed id the client sent is kept beside it (X-Client-Request-Id,
// logged as client_request_id), never in its place.
func EdgeRequestIDs(next http.Handler) http.Handler {
	withIDs := RequestIDs(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Del(ClientRequestIDHeader)
		if c := r.Header.Get(RequestIDHeader); validRequestID(c) {
			r.Header.Set(ClientRequestIDHeader, c)
			w.Header().Set(ClientRequestIDHeader, c)
		}
		r.Header.Set(RequestIDHeader, uuid.NewString())
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

// EnsureRequestID returns id when it is a well-formed request id (up to 128
// letters, digits, '-', '_' or '.'), else a new one.
func EnsureRequestID(id string) string {
	if validRequestID(id) {
		return id
	}
	return uuid.NewString()
}

func validRequestID(id string) bool {
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

// AccessLog logs one line per request after it is served.
func AccessLog(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
			next.ServeHTTP(sw, r)
			log.InfoContext(r.Context(), "http request", "method", r.Method, "path", r.URL.Path,
				"status", sw.status, "duration_ms", time.Since(start).Milliseconds())
		})
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ShutdownTimeout bounds how long in-flight requests may take once a service
// is asked to stop.
const ShutdownTimeout = 10 * time.Second

// ListenAndServe serves h on addr until ctx ends, then shuts down gracefully.
func ListenAndServe(ctx context.Context, log *slog.Logger, addr string, h http.Handler) error {
	srv := &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("http server listening", "addr", addr)
	select {
	case err := <-errc:
		return fmt.Errorf("http server %s: %w", addr, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("http server %s shutdown: %w", addr, err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http server %s: %w", addr, err)
	}
	log.Info("http server stopped", "addr", addr)
	return nil
}
