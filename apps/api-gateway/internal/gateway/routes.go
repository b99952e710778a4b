package gateway

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/go-chi/cors"

	"github.com/pms-dapr/pms/apps/api-gateway/internal/apidocs"
	"github.com/pms-dapr/pms/apps/api-gateway/internal/billingapi"
	"github.com/pms-dapr/pms/apps/api-gateway/internal/console"
	"github.com/pms-dapr/pms/platform/authn"
	"github.com/pms-dapr/pms/platform/clientaddr"
	"github.com/pms-dapr/pms/platform/fhir"
	"github.com/pms-dapr/pms/platform/httpserver"
	"github.com/pms-dapr/pms/platform/problem"
	"github.com/pms-dapr/pms/platform/requestid"
	"github.com/pms-dapr/pms/platform/tracing"
)

// MaxBodyBytes bounds every request body the gateway accepts.
const MaxBodyBytes = 1 << 20

// MaxImportBytes bounds the body of a bulk import (POST /fhir/R4/$import),
// which is streamed to patient-service and must declare its length; it is
// patient-service's own limit (fhirapi.MaxImportBytes).
const MaxImportBytes = 128 << 20

// importPath is the bulk import's route.
const importPath = "/fhir/R4/$import"

// MaxRequestHeadBytes bounds a request's URL and headers together; the
// sidecar's own, lower limit (its read buffer) is answered as a problem too.
const MaxRequestHeadBytes = 16 << 10

// Targets names the Dapr app behind each group of public routes.
type Targets struct {
	Patients  string // app id serving /patients
	Analytics string // app id serving /analytics
	Auth      string // app id serving /auth (prefix removed)
}

// Config is how the gateway reaches its sidecar and whom browsers may call
// it from.
type Config struct {
	Sidecar        *url.URL
	DaprAPIToken   string
	AllowedOrigins []string // CORS allow-list; empty means no cross-origin access
	// TrustedProxies are the proxies in front of the gateway whose
	// X-Forwarded-For it believes; empty: the peer is the client.
	TrustedProxies clientaddr.Proxies
	// TraceFromProxies continues the trace a trusted proxy's request
	// carries; otherwise every request starts a trace of its own.
	TraceFromProxies bool
	// Billing serves /billing (billing-service's gRPC API through the
	// sidecar); nil serves no billing routes.
	Billing *billingapi.Handler
}

// traceTrust is who may continue their own trace at the gateway: nobody,
// unless TraceFromProxies names the trusted proxies.
func traceTrust(cfg Config) func(*http.Request) bool {
	if !cfg.TraceFromProxies {
		return nil
	}
	return cfg.TrustedProxies.FromProxy
}

// Routes returns the gateway's router. Only the listed routes are served,
// each forwarded to a path built from its validated parameters; a path that
// is not in canonical form is refused before routing (strictPaths). Every
// route but login, refresh, the public key documents, health, the API
// reference, the FHIR CapabilityStatement and the console's static files
// needs a valid access token and a role the policy allows.
func Routes(cfg Config, t Targets, auth func(http.Handler) http.Handler, health httpserver.Health, log *slog.Logger) http.Handler {
	r := chi.NewRouter()
	r.Use(tracing.EdgeMiddleware(traceTrust(cfg)), requestid.EdgeMiddleware, httpserver.AccessLog(log), middleware.Recoverer, securityHeaders, fhirErrors, strictPaths, strictHeaders, limitBody)
	if len(cfg.AllowedOrigins) > 0 {
		r.Use(cors.Handler(cors.Options{
			AllowedOrigins: cfg.AllowedOrigins,
			AllowedMethods: []string{"GET", "POST", "PUT", "PATCH", "DELETE"},
			AllowedHeaders: []string{"Authorization", "Content-Type", "If-Match", "If-None-Exist", "Prefer", "Idempotency-Key", "X-Request-Id"},
			ExposedHeaders: []string{"Location", "ETag", "Last-Modified", "X-Request-Id", "Retry-After", "Traceresponse"},
			MaxAge:         600,
		}))
	}
	r.Get("/healthz", health.Live)
	r.Get("/readyz", health.Ready)
	r.Get("/openapi.yaml", apidocs.Spec)
	r.Get("/docs", apidocs.Page)
	r.Get("/docs/{file}", apidocs.Asset)
	r.Get("/", console.Index)
	r.Get("/console/{file}", console.Asset)

	transport := tracing.Transport(newSidecarTransport())
	authApp := NewProxy(cfg, transport, t.Auth, log)
	logout := authApp.To(fixed("/logout"))
	s := sessions{login: authApp.To(fixed("/login")), refresh: authApp.To(fixed("/refresh")), logout: logout}
	r.Post("/auth/login", s.Login)
	r.Post("/auth/refresh", s.Refresh)
	r.Delete("/auth/refresh", s.End)
	r.Get("/auth/.well-known/jwks.json", authApp.To(fixed("/.well-known/jwks.json")).ServeHTTP)
	r.Get("/auth/.well-known/openid-configuration", authApp.To(fixed("/.well-known/openid-configuration")).ServeHTTP)

	auth = auditedAuth(log, cfg.TrustedProxies, auth)
	patients := NewProxy(cfg, transport, t.Patients, log)
	analytics := NewProxy(cfg, transport, t.Analytics, log)
	r.Group(func(r chi.Router) {
		r.Use(auth)
		r.Post("/auth/logout", allow(anyRole, logout).ServeHTTP)
		r.Get("/auth/users", allow(adminsOnly, authApp.To(fixed("/users"))).ServeHTTP)
		r.Post("/auth/users", allow(adminsOnly, authApp.To(fixed("/users"))).ServeHTTP)
		r.Patch("/auth/users/{id}", allow(adminsOnly, authApp.To(withID("/users/", ""))).ServeHTTP)

		r.Get("/patients", allow(patientReaders, patients.To(fixed("/patients"))).ServeHTTP)
		r.Post("/patients", allow(patientWriters, patients.To(fixed("/patients"))).ServeHTTP)
		r.Get("/patients/{id}", allow(patientReaders, patients.To(withID("/patients/", ""))).ServeHTTP)
		r.Put("/patients/{id}", allow(patientWriters, patients.To(withID("/patients/", ""))).ServeHTTP)
		r.Patch("/patients/{id}", allow(patientWriters, patients.To(withID("/patients/", ""))).ServeHTTP)
		r.Delete("/patients/{id}", allow(adminsOnly, patients.To(withID("/patients/", ""))).ServeHTTP)
		r.Get("/patients/{id}/audit", allow(adminsOnly, patients.To(withID("/patients/", "/audit"))).ServeHTTP)

		r.Get("/analytics/summary", allow(adminsOnly, analytics.To(fixed("/analytics/summary"))).ServeHTTP)
		r.Get("/admin/dead-letters", allow(adminsOnly, analytics.To(fixed("/admin/dead-letters/pending"))).ServeHTTP)
		r.Post("/admin/dead-letters/redrive", allow(adminsOnly, analytics.To(fixed("/admin/dead-letters/redrive"))).ServeHTTP)
		r.Post("/admin/dead-letters/discard", allow(adminsOnly, analytics.To(fixed("/admin/dead-letters/discard"))).ServeHTTP)

		if cfg.Billing != nil {
			for _, rt := range cfg.Billing.Routes(authn.RoleAdmin, authn.RoleBilling, authn.RoleClinician) {
				r.Method(rt.Method, rt.Pattern, allow(rt.Roles, rt.Handle))
			}
		}
	})

	// The FHIR API: the same roles as /patients, errors as OperationOutcome;
	// the CapabilityStatement is public (clients read it before signing in).
	r.Route("/fhir/R4", func(r chi.Router) {
		r.Get("/metadata", patients.To(fixed("/fhir/R4/metadata")).ServeHTTP)
		r.Group(func(r chi.Router) {
			r.Use(auth)
			r.Get("/Patient", allow(patientReaders, patients.To(fixed("/fhir/R4/Patient"))).ServeHTTP)
			r.Post("/Patient", allow(patientWriters, patients.To(fixed("/fhir/R4/Patient"))).ServeHTTP)
			r.Post("/Patient/_search", allow(patientReaders, patients.To(fixed("/fhir/R4/Patient/_search"))).ServeHTTP)
			r.Get("/Patient/{id}", allow(patientReaders, patients.To(withID("/fhir/R4/Patient/", ""))).ServeHTTP)
			r.Put("/Patient/{id}", allow(patientWriters, patients.To(withID("/fhir/R4/Patient/", ""))).ServeHTTP)
			r.Delete("/Patient/{id}", allow(adminsOnly, patients.To(withID("/fhir/R4/Patient/", ""))).ServeHTTP)
			r.Get("/Patient/{id}/_history", allow(patientReaders, patients.To(withID("/fhir/R4/Patient/", "/_history"))).ServeHTTP)
			r.Get("/Patient/{id}/_history/{vid}", allow(patientReaders, patients.To(withVersion("/fhir/R4/Patient/", "/_history/"))).ServeHTTP)
			r.Post("/$import", allow(adminsOnly, patients.To(fixed(importPath))).ServeHTTP)
			r.Get("/$import-status/{id}", allow(adminsOnly, patients.To(withID("/fhir/R4/$import-status/", ""))).ServeHTTP)
			r.Get("/$import-status/{id}/errors", allow(adminsOnly, patients.To(withID("/fhir/R4/$import-status/", "/errors"))).ServeHTTP)
		})
		r.NotFound(problem.NotFound)
		r.MethodNotAllowed(problem.MethodNotAllowed)
	})

	r.NotFound(problem.NotFound)
	r.MethodNotAllowed(problem.MethodNotAllowed)
	return r
}

// securityHeaders sets the headers an API that serves patient data should
// always send.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		next.ServeHTTP(w, r)
	})
}

// limitBody answers 413 to a body over MaxBodyBytes. A body of unknown
// length (chunked) is read here, before anything is forwarded, so that one
// over the limit is refused every time rather than failing midway through
// the proxy (where it looked like an unreachable app); one within it goes
// on with its length.
func limitBody(next http.Handler) http.Handler {
	tooLarge := func(w http.ResponseWriter, r *http.Request) {
		problem.Write(w, r, problem.New(http.StatusRequestEntityTooLarge, fmt.Sprintf("The body must be at most %d bytes.", MaxBodyBytes)))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == importPath {
			limitImport(w, r, next)
			return
		}
		if r.ContentLength > MaxBodyBytes {
			tooLarge(w, r)
			return
		}
		if r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody {
			raw, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
			if err != nil {
				problem.Write(w, r, problem.New(http.StatusBadRequest, "The body could not be read."))
				return
			}
			if len(raw) > MaxBodyBytes {
				tooLarge(w, r)
				return
			}
			r.Body, r.ContentLength, r.TransferEncoding = io.NopCloser(bytes.NewReader(raw)), int64(len(raw)), nil
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

// limitImport lets a bulk import through with its length declared and at
// most MaxImportBytes: 411 without a length (a body streamed as it is read
// could not be refused whole), 413 over the limit.
func limitImport(w http.ResponseWriter, r *http.Request, next http.Handler) {
	switch {
	case r.ContentLength < 0:
		problem.Write(w, r, problem.New(http.StatusLengthRequired, "An import must declare its length (Content-Length)."))
	case r.ContentLength > MaxImportBytes:
		problem.Write(w, r, problem.New(http.StatusRequestEntityTooLarge, fmt.Sprintf("An import must be at most %d bytes; send a larger file in parts.", MaxImportBytes)))
	default:
		r.Body = http.MaxBytesReader(w, r.Body, MaxImportBytes)
		next.ServeHTTP(w, r)
	}
}

// strictHeaders answers 400, naming the header, to a request header value
// that is not printable ASCII (bytes 0x80 and up; net/http already refuses
// control bytes). The sidecars carry headers as gRPC metadata, which
// refuses such values: forwarded, they failed the invocation, and the
// client saw an outage (503) it had caused. Cookies stay here and are not
// checked.
//
// It also bounds what a request line and headers may hold together
// (MaxRequestHeadBytes), answering as a problem (an OperationOutcome on
// FHIR paths): 414 when the URL alone is too long, 431 otherwise. (The
// sidecar's plain-text 431 for a smaller head is turned into a problem by
// the proxy.)
func strictHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		size := len(r.URL.RequestURI())
		if size > MaxRequestHeadBytes {
			problem.Write(w, r, problem.New(http.StatusRequestURITooLong,
				fmt.Sprintf("The URL must be at most %d bytes; send a long search as a POST to _search.", MaxRequestHeadBytes)))
			return
		}
		for name, values := range r.Header {
			for _, v := range values {
				size += len(name) + len(v) + 4
				if name != "Cookie" && !printableASCII(v) {
					problem.Write(w, r, problem.Validation([]problem.FieldError{{Field: "header " + name,
						Message: "must be printable ASCII (encode other characters, e.g. percent-encoding)"}}))
					return
				}
			}
		}
		if size > MaxRequestHeadBytes {
			problem.Write(w, r, problem.New(http.StatusRequestHeaderFieldsTooLarge,
				fmt.Sprintf("The URL and headers must be at most %d bytes together.", MaxRequestHeadBytes)))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c > 0x7e {
			return false
		}
	}
	return true
}

// fhirErrors answers every error on a FHIR path as an OperationOutcome,
// from whichever layer it comes (path checks, body limits, tokens, roles,
// routing, an unavailable app).
func fhirErrors(next http.Handler) http.Handler {
	wrapped := fhir.Errors(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/fhir/") {
			wrapped.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}
