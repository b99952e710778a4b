// Package fhirapi serves the patient registry as an HL7 FHIR R4 (4.0.1)
// API under /fhir/R4: Patient create (conditional too), read, vread,
// instance history, update, delete and search, the CapabilityStatement,
// and OperationOutcome errors. It is another adapter over the patient
// domain, beside patientapi: every interaction goes through
// patient.Service, so it is validated, audited and published as the JSON
// API's are.
package fhirapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/pms-dapr/pms/apps/patient-service/internal/patient"
	"github.com/pms-dapr/pms/platform/authn"
	"github.com/pms-dapr/pms/platform/fault"
	"github.com/pms-dapr/pms/platform/fhir"
	"github.com/pms-dapr/pms/platform/problem"
	"github.com/pms-dapr/pms/platform/requestid"
)

// MaxBodyBytes bounds a request body; a Patient is far smaller.
const MaxBodyBytes = 64 << 10

// Prefix is where the FHIR API is served, in the app and at the gateway.
const Prefix = "/fhir/R4"

// Registry is what the handlers need from the domain.
type Registry interface {
	Create(ctx context.Context, a patient.Actor, d patient.Draft, idempotencyKey string) (patient.Patient, bool, error)
	CreateIfNoneExist(ctx context.Context, a patient.Actor, d patient.Draft, q patient.Query, criteria string) (patient.Patient, bool, error)
	Get(ctx context.Context, a patient.Actor, id string) (patient.Patient, error)
	ReadVersion(ctx context.Context, a patient.Actor, id string, v int64) (patient.Version, error)
	History(ctx context.Context, a patient.Actor, id string, before int64, limit int) ([]patient.Version, error)
	Search(ctx context.Context, a patient.Actor, q patient.Query) (patient.Page, error)
	Update(ctx context.Context, a patient.Actor, id string, ifMatch int64, edit func(patient.Draft) (patient.Draft, error)) (patient.Patient, error)
	Delete(ctx context.Context, a patient.Actor, id string, ifMatch int64) error
}

// Config is how the API names itself.
type Config struct {
	// BaseURL is the public base (https://host/fhir/R4); empty: taken from
	// the X-Forwarded-Proto and X-Forwarded-Host the gateway sends.
	BaseURL string
	// MRNSystem is the identifier system of the medical record number.
	MRNSystem string
}

// CheckConfig says what is wrong with a base URL and MRN system.
func CheckConfig(baseURL, mrnSystem string) error {
	if baseURL != "" {
		u, err := url.Parse(baseURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" ||
			strings.HasSuffix(u.Path, "/") {
			return fmt.Errorf("FHIR_BASE_URL must be an absolute http(s) URL without a query or trailing slash, like https://pms.example.org/fhir/R4")
		}
	}
	u, err := url.Parse(mrnSystem)
	if err != nil || u.Scheme == "" || (u.Opaque == "" && u.Host == "") {
		return fmt.Errorf("FHIR_MRN_SYSTEM must be an absolute URI, like https://hospital.example.org/fhir/sid/mrn")
	}
	return nil
}

// Handler serves the FHIR routes.
type Handler struct {
	reg     Registry
	imports Importer
	cfg     Config
	log     *slog.Logger
}

// Mount adds the FHIR API to r under Prefix; tokens checks access tokens
// on every route but the CapabilityStatement. imports serves bulk import
// ($import); nil serves none.
func Mount(r chi.Router, reg Registry, imports Importer, cfg Config, tokens func(http.Handler) http.Handler, log *slog.Logger) {
	h := &Handler{reg: reg, imports: imports, cfg: cfg, log: log}
	r.Route(Prefix, func(r chi.Router) {
		r.Use(fhir.Errors)
		if imports != nil {
			// NDJSON in (the import) and out (its error file): not negotiated.
			r.Group(func(r chi.Router) {
				r.Use(tokens)
				r.Post("/$import", h.startImport)
				r.Get("/$import-status/{id}", h.importStatus)
				r.Get("/$import-status/{id}/errors", h.importErrors)
			})
		}
		r.With(negotiate).Get("/metadata", h.metadata)
		r.Group(func(r chi.Router) {
			r.Use(negotiate, tokens)
			r.Post("/Patient", h.create)
			r.Get("/Patient", h.search)
			r.Post("/Patient/_search", h.search)
			r.Get("/Patient/{id}", h.read)
			r.Put("/Patient/{id}", h.update)
			r.Delete("/Patient/{id}", h.delete)
			r.Get("/Patient/{id}/_history", h.history)
			r.Get("/Patient/{id}/_history/{vid}", h.vread)
		})
		r.NotFound(func(w http.ResponseWriter, _ *http.Request) {
			fhir.WriteOutcome(w, http.StatusNotFound, "This server has no such FHIR endpoint; see /fhir/R4/metadata.")
		})
		r.MethodNotAllowed(func(w http.ResponseWriter, _ *http.Request) {
			fhir.WriteOutcome(w, http.StatusMethodNotAllowed, "This interaction is not supported here; see /fhir/R4/metadata.")
		})
	})
}

// actor is the verified caller of r.
func actor(r *http.Request) patient.Actor {
	id, _ := authn.FromContext(r.Context())
	return patient.Actor{UserID: id.Subject, Role: id.Role, RequestID: requestid.From(r.Context())}
}

// base is the API's public base URL for r.
func (h *Handler) base(r *http.Request) string {
	if h.cfg.BaseURL != "" {
		return h.cfg.BaseURL
	}
	proto := r.Header.Get("X-Forwarded-Proto")
	if proto != "https" {
		proto = "http"
	}
	host := r.Header.Get("X-Forwarded-Host")
	if host == "" || strings.ContainsFunc(host, func(c rune) bool {
		return !(c == '.' || c == '-' || c == ':' || c == '[' || c == ']' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
	}) {
		host = r.Host
	}
	return proto + "://" + host + Prefix
}

// fail answers a domain or input error as an OperationOutcome.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	if status, issues, ok := outcomeOf(err); ok {
		oo := fhir.OperationOutcome{ResourceType: "OperationOutcome"}
		for _, f := range issues {
			oo.Issue = append(oo.Issue, fhir.Issue{Severity: "error", Code: "invalid", Diagnostics: f.expression + ": " + f.message, Expression: []string{f.expression}})
		}
		fhir.Write(w, status, oo)
		return
	}
	var serr *searchError
	var derr *dateError
	switch {
	case errors.As(err, &serr):
		fhir.WriteOutcome(w, http.StatusBadRequest, serr.message, serr.param)
		return
	case errors.As(err, &derr):
		fhir.WriteOutcome(w, http.StatusBadRequest, derr.msg)
		return
	}
	for _, rule := range domainErrors {
		if errors.Is(err, rule.Err) {
			var expr []string
			if rule.Field != "" {
				expr = []string{rule.Field}
			}
			fhir.WriteOutcome(w, rule.Status, rule.Detail, expr...)
			return
		}
	}
	if errors.Is(err, fault.ErrUnavailable) {
		h.log.WarnContext(r.Context(), "dependency unavailable", "err", err)
		fhir.WriteOutcome(w, http.StatusServiceUnavailable, "The database is unavailable; try again shortly.")
		return
	}
	h.log.ErrorContext(r.Context(), "request failed", "err", err)
	fhir.WriteOutcome(w, http.StatusInternalServerError, "The request could not be completed.")
}

// domainErrors are the answers to the domain's errors, as patientapi's
// problem.Mapper has them; Field is the FHIRPath of the element at fault.
var domainErrors = []problem.Rule{
	{Err: patient.ErrNotFound, Status: http.StatusNotFound, Detail: "No Patient with this id (or version)."},
	{Err: patient.ErrGone, Status: http.StatusGone, Detail: "This Patient was deleted."},
	{Err: patient.ErrVersionMismatch, Status: http.StatusPreconditionFailed, Detail: "The Patient changed since the version in If-Match; read it again and reapply the change."},
	{Err: patient.ErrMultipleMatches, Status: http.StatusPreconditionFailed, Detail: "More than one Patient matches If-None-Exist."},
	{Err: patient.ErrForbidden, Status: http.StatusForbidden, Detail: "Your role does not allow this."},
	{Err: patient.ErrIdempotencyMismatch, Status: http.StatusUnprocessableEntity, Detail: "This Idempotency-Key was used for a different request."},
	{Err: patient.ErrEmailTaken, Status: http.StatusConflict, Detail: "A patient with this email is already registered.", Field: "Patient.telecom.where(system='email')"},
	{Err: patient.ErrMRNTaken, Status: http.StatusConflict, Detail: "A patient with this medical record number is already registered.", Field: "Patient.identifier"},
}
