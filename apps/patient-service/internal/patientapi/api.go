// Package patientapi serves patient-service's REST API: request decoding,
// the JSON representation of a patient, and the mapping of domain errors to
// problem+json.
package patientapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/pms-dapr/pms/apps/patient-service/internal/patient"
	"github.com/pms-dapr/pms/platform/authn"
	"github.com/pms-dapr/pms/platform/jsonbody"
	"github.com/pms-dapr/pms/platform/problem"
	"github.com/pms-dapr/pms/platform/service"
)

// MaxBodyBytes bounds a request body; a patient is far smaller.
const MaxBodyBytes = 64 << 10

// Registry is what the handlers need from the domain.
type Registry interface {
	Create(ctx context.Context, d patient.Draft) (patient.Patient, error)
	Get(ctx context.Context, id string) (patient.Patient, error)
	List(ctx context.Context, limit int) ([]patient.Patient, error)
}

// Handler serves the patient routes.
type Handler struct {
	reg Registry
	log *slog.Logger
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

// Routes returns the service's router: the patient API plus health.
func Routes(reg Registry, sec Security, health service.Health, log *slog.Logger) http.Handler {
	h := &Handler{reg: reg, log: log}
	r := chi.NewRouter()
	r.Use(service.RequestIDs, service.AccessLog(log), middleware.Recoverer, authn.RequireAppToken(sec.AppAPIToken))
	r.Get("/healthz", health.Live)
	r.Get("/readyz", health.Ready)
	r.Route("/patients", func(r chi.Router) {
		r.Use(sec.Tokens.Middleware)
		r.Post("/", h.create)
		r.Get("/", h.list)
		r.Get("/{id}", h.get)
	})
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		problem.Write(w, r, problem.New(http.StatusNotFound, "No such resource."))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		problem.Write(w, r, problem.New(http.StatusMethodNotAllowed, "Method not allowed on this resource."))
	})
	return r
}

func (h *Handler) create(w http.ResponseWriter, r *http.Request) {
	var body patientRequest
	if !jsonbody.Decode(w, r, &body, MaxBodyBytes) {
		return
	}
	p, err := h.reg.Create(r.Context(), body.draft())
	if err != nil {
		h.audit(r, "patient.create", "", err)
		h.fail(w, r, err)
		return
	}
	h.audit(r, "patient.create", p.ID, nil)
	w.Header().Set("Location", "/patients/"+p.ID)
	service.WriteJSON(w, http.StatusCreated, toResponse(p))
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request) {
	p, err := h.reg.Get(r.Context(), chi.URLParam(r, "id"))
	h.audit(r, "patient.read", chi.URLParam(r, "id"), err)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	service.WriteJSON(w, http.StatusOK, toResponse(p))
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	limit := 0
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			problem.Write(w, r, problem.Validation([]problem.FieldError{{Field: "limit", Message: "must be a whole number"}}))
			return
		}
		limit = n
	}
	ps, err := h.reg.List(r.Context(), limit)
	h.audit(r, "patient.list", "", err)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := listResponse{Items: make([]patientResponse, len(ps))}
	for i, p := range ps {
		out.Items[i] = toResponse(p)
	}
	service.WriteJSON(w, http.StatusOK, out)
}

// audit logs who did what to which record and how it ended.
func (h *Handler) audit(r *http.Request, action, patientID string, err error) {
	id, _ := authn.FromContext(r.Context())
	outcome := "success"
	if err != nil {
		outcome = "failure"
	}
	h.log.InfoContext(r.Context(), "audit", "action", action, "patient_id", patientID,
		"user_id", id.Subject, "role", id.Role, "outcome", outcome)
}

// fail maps a domain error to its problem; anything unexpected is logged and
// answered with a generic 500.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var verr *patient.ValidationError
	switch {
	case errors.As(err, &verr):
		fields := make([]problem.FieldError, len(verr.Fields))
		for i, f := range verr.Fields {
			fields[i] = problem.FieldError{Field: f.Field, Message: f.Message}
		}
		problem.Write(w, r, problem.Validation(fields))
	case errors.Is(err, patient.ErrNotFound):
		problem.Write(w, r, problem.New(http.StatusNotFound, "No patient with this id."))
	case errors.Is(err, patient.ErrEmailTaken):
		d := problem.New(http.StatusConflict, "A patient with this email is already registered.")
		d.Errors = []problem.FieldError{{Field: "email", Message: "is already registered"}}
		problem.Write(w, r, d)
	default:
		h.log.ErrorContext(r.Context(), "request failed", "err", err)
		problem.Write(w, r, problem.New(http.StatusInternalServerError, "The request could not be completed."))
	}
}
