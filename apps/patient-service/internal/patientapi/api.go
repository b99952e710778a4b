// Package patientapi serves patient-service's REST API: request decoding,
// the JSON representation of a patient, conditional requests (ETag and
// If-Match), and the mapping of domain errors to problem+json.
package patientapi

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/pms-dapr/pms/apps/patient-service/internal/patient"
	"github.com/pms-dapr/pms/platform/authn"
	"github.com/pms-dapr/pms/platform/httpserver"
	"github.com/pms-dapr/pms/platform/problem"
	"github.com/pms-dapr/pms/platform/requestid"
)

// MaxBodyBytes bounds a request body; a patient is far smaller.
const MaxBodyBytes = 64 << 10

// Registry is what the handlers need from the domain.
type Registry interface {
	Create(ctx context.Context, a patient.Actor, d patient.Draft, idempotencyKey string) (patient.Patient, bool, error)
	Get(ctx context.Context, a patient.Actor, id string) (patient.Patient, error)
	Search(ctx context.Context, a patient.Actor, q patient.Query) (patient.Page, error)
	Replace(ctx context.Context, a patient.Actor, id string, ifMatch int64, d patient.Draft) (patient.Patient, error)
	Patch(ctx context.Context, a patient.Actor, id string, ifMatch int64, edit func(patient.Draft) (patient.Draft, error)) (patient.Patient, error)
	Delete(ctx context.Context, a patient.Actor, id string, ifMatch int64) error
	AuditTrail(ctx context.Context, a patient.Actor, id string, q patient.AuditQuery) (patient.AuditPage, error)
}

// Handler serves the patient routes.
type Handler struct {
	reg  Registry
	log  *slog.Logger
	errs problem.Mapper
}

// TokenVerifier wraps handlers so they see only callers with a valid access
// token, whose identity is then in the request context.
type TokenVerifier interface {
	Middleware(next http.Handler) http.Handler
}

// Security is how the service trusts a request: it must come through the
// app's Dapr sidecar (app API token) and carry a valid user access token,
// checked here again although the gateway checked it (defence in depth).
type Security struct {
	AppAPIToken string
	Tokens      TokenVerifier
}

// Routes returns the service's router: the patient API plus health;
// mounts add further APIs (FHIR's) to the same router.
func Routes(reg Registry, sec Security, health httpserver.Health, log *slog.Logger, mounts ...func(chi.Router)) http.Handler {
	h := &Handler{reg: reg, log: log, errs: errorMapper(log)}
	r := httpserver.Router(log, sec.AppAPIToken, health)
	r.Route("/patients", func(r chi.Router) {
		r.Use(sec.Tokens.Middleware)
		r.Post("/", h.create)
		r.Get("/", h.search)
		r.Route("/{id}", func(r chi.Router) {
			r.Use(knownIDs)
			r.Get("/", h.get)
			r.Put("/", h.replace)
			r.Patch("/", h.patch)
			r.Delete("/", h.delete)
			r.Get("/audit", h.audit)
		})
	})
	for _, m := range mounts {
		m(r)
	}
	return r
}

// actor is the verified caller of r.
func actor(r *http.Request) patient.Actor {
	id, _ := authn.FromContext(r.Context())
	return patient.Actor{UserID: id.Subject, Role: id.Role, RequestID: requestid.From(r.Context())}
}

// errorMapper maps the domain's errors to problems.
func errorMapper(log *slog.Logger) problem.Mapper {
	return problem.Mapper{Log: log, Rules: []problem.Rule{
		{Err: patient.ErrNotFound, Status: http.StatusNotFound, Detail: "No patient with this id."},
		{Err: patient.ErrGone, Status: http.StatusGone, Detail: "This patient record was deleted."},
		{Err: patient.ErrVersionMismatch, Status: http.StatusPreconditionFailed, Detail: "The patient changed since you read it; read it again and reapply your change."},
		{Err: patient.ErrForbidden, Status: http.StatusForbidden, Detail: "Your role does not allow this."},
		{Err: patient.ErrIdempotencyMismatch, Status: http.StatusUnprocessableEntity, Detail: "This Idempotency-Key was used for a different request."},
		{Err: patient.ErrEmailTaken, Status: http.StatusConflict, Detail: "A patient with this email is already registered.", Field: "email", Message: "is already registered"},
		{Err: patient.ErrMRNTaken, Status: http.StatusConflict, Detail: "A patient with this medical record number is already registered.", Field: "mrn", Message: "is already registered"},
	}}
}

// fail answers a domain error with its problem.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) { h.errs.Write(w, r, err) }

// knownIDs answers 404 for a path id that cannot name a patient (not a
// UUID), before anything is looked up or audited: such text never reaches
// the database, which would refuse some of it (NUL, invalid UTF-8).
func knownIDs(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !patient.ValidID(chi.URLParam(r, "id")) {
			problem.Write(w, r, problem.New(http.StatusNotFound, "No patient with this id."))
			return
		}
		next.ServeHTTP(w, r)
	})
}
