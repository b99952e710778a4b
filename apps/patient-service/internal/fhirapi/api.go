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
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/pms-dapr/pms/apps/patient-service/internal/patient"
	"github.com/pms-dapr/pms/platform/authn"
	"github.com/pms-dapr/pms/platform/fault"
	"github.com/pms-dapr/pms/platform/fhir"
	"github.com/pms-dapr/pms/platform/jsonbody"
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
	reg Registry
	cfg Config
	log *slog.Logger
}

// Mount adds the FHIR API to r under Prefix; tokens checks access tokens
// on every route but the CapabilityStatement.
func Mount(r chi.Router, reg Registry, cfg Config, tokens func(http.Handler) http.Handler, log *slog.Logger) {
	h := &Handler{reg: reg, cfg: cfg, log: log}
	r.Route(Prefix, func(r chi.Router) {
		r.Use(fhir.Errors, negotiate)
		r.Get("/metadata", h.metadata)
		r.Group(func(r chi.Router) {
			r.Use(tokens)
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

// negotiate refuses, with 406, a request for a format other than JSON
// (_format or Accept).
func negotiate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f := r.URL.Query().Get("_format"); f != "" && !jsonFormat(f) {
			fhir.WriteOutcome(w, http.StatusNotAcceptable, "_format "+f+" is not supported; this server speaks application/fhir+json (_format=json).", "_format")
			return
		}
		if a := r.Header.Get("Accept"); a != "" && !acceptsJSON(a) {
			fhir.WriteOutcome(w, http.StatusNotAcceptable, "Accept "+a+" is not supported; this server answers application/fhir+json.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func jsonFormat(f string) bool {
	mt, _, err := mime.ParseMediaType(f)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(f))
	}
	switch mt {
	case "json", "application/json", "application/fhir+json", "application/json+fhir":
		return true
	}
	return false
}

func acceptsJSON(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || params["q"] == "0" {
			continue
		}
		if mt == "*/*" || mt == "application/*" || jsonFormat(mt) {
			return true
		}
	}
	return false
}

// readPatient reads the Patient a request carries and the draft it makes,
// or answers why not: 415 for another media type, 413 for too large a
// body, 400 naming what is wrong with it.
func (h *Handler) readPatient(w http.ResponseWriter, r *http.Request) (Patient, patient.Draft, bool) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/fhir+json" && mt != "application/json" && mt != "application/json+fhir") {
		fhir.WriteOutcome(w, http.StatusUnsupportedMediaType, "Send the resource as application/fhir+json.")
		return Patient{}, patient.Draft{}, false
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		fhir.WriteOutcome(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("The body must be at most %d bytes.", MaxBodyBytes))
		return Patient{}, patient.Draft{}, false
	}
	// Text PostgreSQL cannot store, or that encoding/json would silently
	// replace, is refused by the element it is in, as the JSON API does.
	if field, msg := jsonbody.Check(b); field != "" {
		fhir.WriteOutcome(w, http.StatusBadRequest, "Patient."+field+" "+msg, "Patient."+field)
		return Patient{}, patient.Draft{}, false
	}
	in, d, err := decodePatient(b, h.cfg.MRNSystem)
	if err != nil {
		h.fail(w, r, err)
		return Patient{}, patient.Draft{}, false
	}
	return in, d, true
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

// writePatient answers a Patient with its version headers.
func (h *Handler) writePatient(w http.ResponseWriter, status int, p patient.Patient) {
	w.Header().Set("ETag", etag(p.Version))
	w.Header().Set("Last-Modified", p.UpdatedAt.UTC().Format(http.TimeFormat))
	fhir.Write(w, status, Resource(p, h.cfg.MRNSystem))
}

func etag(v int64) string { return `W/"` + strconv.FormatInt(v, 10) + `"` }

// ifMatch reads the version in If-Match (W/"n", or "n"): AnyVersion when
// there is none, false (after answering 412) when it names no version.
func ifMatch(w http.ResponseWriter, r *http.Request) (int64, bool) {
	v := strings.TrimSpace(r.Header.Get("If-Match"))
	if v == "" {
		return patient.AnyVersion, true
	}
	n, err := strconv.ParseInt(strings.Trim(strings.TrimPrefix(v, "W/"), `"`), 10, 64)
	if err != nil || n < 1 {
		fhir.WriteOutcome(w, http.StatusPreconditionFailed, `If-Match must be a version this server returned, like W/"3".`)
		return 0, false
	}
	return n, true
}

func (h *Handler) read(w http.ResponseWriter, r *http.Request) {
	p, err := h.reg.Get(r.Context(), actor(r), chi.URLParam(r, "id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.writePatient(w, http.StatusOK, p)
}

func (h *Handler) vread(w http.ResponseWriter, r *http.Request) {
	vid, err := strconv.ParseInt(chi.URLParam(r, "vid"), 10, 64)
	if err != nil || vid < 1 {
		h.fail(w, r, patient.ErrNotFound)
		return
	}
	v, err := h.reg.ReadVersion(r.Context(), actor(r), chi.URLParam(r, "id"), vid)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.writePatient(w, http.StatusOK, v.Patient)
}

func (h *Handler) create(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Idempotency-Key")
	if !patient.ValidIdempotencyKey(key) {
		fhir.WriteOutcome(w, http.StatusBadRequest, "Idempotency-Key must be 1 to 255 visible ASCII characters.")
		return
	}
	_, d, ok := h.readPatient(w, r)
	if !ok {
		return
	}
	var p patient.Patient
	created := true
	if cond := r.Header.Get("If-None-Exist"); cond != "" {
		s, err := conditionalSearch(cond, h.cfg.MRNSystem)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		p, created, err = h.reg.CreateIfNoneExist(r.Context(), actor(r), d, s.query, s.used.Encode())
		if err != nil {
			h.fail(w, r, err)
			return
		}
	} else {
		var replayed bool
		var err error
		p, replayed, err = h.reg.Create(r.Context(), actor(r), d, key)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if replayed {
			w.Header().Set("Idempotent-Replayed", "true")
		}
	}
	if !created {
		h.writePatient(w, http.StatusOK, p)
		return
	}
	w.Header().Set("Location", h.base(r)+"/Patient/"+p.ID+"/_history/"+strconv.FormatInt(p.Version, 10))
	h.writePatient(w, http.StatusCreated, p)
}

// conditionalSearch reads If-None-Exist: a search query, every parameter
// known (an ignored one would widen the match), at least one given.
func conditionalSearch(cond, mrnSystem string) (search, error) {
	v, err := url.ParseQuery(strings.TrimPrefix(cond, "?"))
	if err != nil {
		return search{}, &searchError{"If-None-Exist", "must be a search query like identifier=system|value"}
	}
	for k := range v {
		if k == "_count" || k == cursorParam || k == "_format" {
			return search{}, &searchError{"If-None-Exist", k + " has no place in a condition"}
		}
	}
	s, err := parseSearch(v, mrnSystem, true)
	if err != nil {
		return search{}, err
	}
	s.used.Del("_count")
	if len(s.used) == 0 {
		return search{}, &searchError{"If-None-Exist", "must name at least one search parameter"}
	}
	return s, nil
}

func (h *Handler) update(w http.ResponseWriter, r *http.Request) {
	version, ok := ifMatch(w, r)
	if !ok {
		return
	}
	if version == patient.AnyVersion {
		fhir.WriteOutcome(w, http.StatusPreconditionRequired, `Send If-Match with the version you are changing (W/"n", from ETag or meta.versionId).`)
		return
	}
	in, d, ok := h.readPatient(w, r)
	if !ok {
		return
	}
	id := chi.URLParam(r, "id")
	if in.ID != id {
		fhir.WriteOutcome(w, http.StatusBadRequest, "The resource's id must be the id in the URL.", "Patient.id")
		return
	}
	p, err := h.reg.Update(r.Context(), actor(r), id, version, func(cur patient.Draft) (patient.Draft, error) {
		// What FHIR does not carry stays as it is: the registration date,
		// and the MRN when the resource names none.
		d.RegisteredDate = cur.RegisteredDate
		return d, nil
	})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.writePatient(w, http.StatusOK, p)
}

func (h *Handler) delete(w http.ResponseWriter, r *http.Request) {
	version, ok := ifMatch(w, r) // optional: without it, the current version
	if !ok {
		return
	}
	err := h.reg.Delete(r.Context(), actor(r), chi.URLParam(r, "id"), version)
	// Deleting what is already deleted changes nothing and succeeds.
	if err != nil && !errors.Is(err, patient.ErrGone) {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// searchParams are a search's parameters: the query string, and for POST
// _search the form body too.
func searchParams(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	params := r.URL.Query()
	if r.Method != http.MethodPost {
		return params, true
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/x-www-form-urlencoded" {
			fhir.WriteOutcome(w, http.StatusUnsupportedMediaType, "Send _search parameters as application/x-www-form-urlencoded.")
			return nil, false
		}
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		fhir.WriteOutcome(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("The body must be at most %d bytes.", MaxBodyBytes))
		return nil, false
	}
	form, err := url.ParseQuery(string(b))
	if err != nil {
		fhir.WriteOutcome(w, http.StatusBadRequest, "The _search body must be a form (a=1&b=2).")
		return nil, false
	}
	for k, vs := range form {
		params[k] = append(params[k], vs...)
	}
	return params, true
}

// strict reports whether the client asked for unknown parameters to be
// refused (Prefer: handling=strict).
func strict(r *http.Request) bool {
	for _, p := range r.Header.Values("Prefer") {
		for _, part := range strings.Split(p, ",") {
			if strings.EqualFold(strings.ReplaceAll(strings.TrimSpace(part), " ", ""), "handling=strict") {
				return true
			}
		}
	}
	return false
}

func (h *Handler) search(w http.ResponseWriter, r *http.Request) {
	params, ok := searchParams(w, r)
	if !ok {
		return
	}
	s, err := parseSearch(params, h.cfg.MRNSystem, strict(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	page, err := h.reg.Search(r.Context(), actor(r), s.query)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	base := h.base(r)
	b := Bundle{ResourceType: "Bundle", Type: "searchset",
		Link: []Link{{Relation: "self", URL: base + "/Patient?" + s.used.Encode()}}}
	if page.Next != nil {
		next := cloneValues(s.used)
		next.Set(cursorParam, page.Next.Encode())
		b.Link = append(b.Link, Link{Relation: "next", URL: base + "/Patient?" + next.Encode()})
	}
	for _, p := range page.Items {
		b.Entry = append(b.Entry, Entry{FullURL: base + "/Patient/" + p.ID, Resource: Resource(p, h.cfg.MRNSystem),
			Search: &EntrySearch{Mode: "match"}})
	}
	fhir.Write(w, http.StatusOK, b)
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// history answers every version of a Patient, newest first, its deletion
// included (an entry without a resource), a page at a time.
func (h *Handler) history(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	count := DefaultCount
	if c := q.Get("_count"); c != "" {
		n, err := strconv.Atoi(c)
		if err != nil || n < 1 {
			fhir.WriteOutcome(w, http.StatusBadRequest, "_count must be a whole number of 1 or more.", "_count")
			return
		}
		count = min(n, MaxCount)
	}
	var before int64
	if c := q.Get(cursorParam); c != "" {
		n, err := strconv.ParseInt(c, 10, 64)
		if err != nil || n < 1 {
			fhir.WriteOutcome(w, http.StatusBadRequest, "_cursor is not a cursor this server returned.", cursorParam)
			return
		}
		before = n
	}
	id := chi.URLParam(r, "id")
	vs, err := h.reg.History(r.Context(), actor(r), id, before, count+1)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	base := h.base(r)
	self := url.Values{"_count": {strconv.Itoa(count)}}
	if before > 0 {
		self.Set(cursorParam, strconv.FormatInt(before, 10))
	}
	b := Bundle{ResourceType: "Bundle", Type: "history",
		Link: []Link{{Relation: "self", URL: base + "/Patient/" + id + "/_history?" + self.Encode()}}}
	if len(vs) > count {
		vs = vs[:count]
		next := url.Values{"_count": {strconv.Itoa(count)}, cursorParam: {strconv.FormatInt(vs[count-1].Patient.Version, 10)}}
		b.Link = append(b.Link, Link{Relation: "next", URL: base + "/Patient/" + id + "/_history?" + next.Encode()})
	}
	for _, v := range vs {
		b.Entry = append(b.Entry, historyEntry(base, v, h.cfg.MRNSystem))
	}
	fhir.Write(w, http.StatusOK, b)
}

func historyEntry(base string, v patient.Version, mrnSystem string) Entry {
	p := v.Patient
	e := Entry{FullURL: base + "/Patient/" + p.ID,
		Response: &EntryResponse{Etag: etag(p.Version), LastModified: instant(p.UpdatedAt)}}
	switch v.Action {
	case patient.ActionCreate:
		e.Request = &EntryRequest{Method: "POST", URL: "Patient"}
		e.Response.Status = "201 Created"
	case patient.ActionDelete:
		e.Request = &EntryRequest{Method: "DELETE", URL: "Patient/" + p.ID}
		e.Response.Status = "204 No Content"
		return e
	case patient.ActionPatch:
		e.Request = &EntryRequest{Method: "PATCH", URL: "Patient/" + p.ID}
		e.Response.Status = "200 OK"
	default:
		e.Request = &EntryRequest{Method: "PUT", URL: "Patient/" + p.ID}
		e.Response.Status = "200 OK"
	}
	res := Resource(p, mrnSystem)
	e.Resource = &res
	return e
}

// Bundle is a searchset or history.
type Bundle struct {
	ResourceType string  `json:"resourceType"`
	Type         string  `json:"type"`
	Link         []Link  `json:"link,omitempty"`
	Entry        []Entry `json:"entry,omitempty"`
}

// Link is a Bundle link (self, next).
type Link struct {
	Relation string `json:"relation"`
	URL      string `json:"url"`
}

// Entry is one Bundle entry.
type Entry struct {
	FullURL  string         `json:"fullUrl,omitempty"`
	Resource any            `json:"resource,omitempty"`
	Search   *EntrySearch   `json:"search,omitempty"`
	Request  *EntryRequest  `json:"request,omitempty"`
	Response *EntryResponse `json:"response,omitempty"`
}

// EntrySearch says why an entry is in a searchset.
type EntrySearch struct {
	Mode string `json:"mode"`
}

// EntryRequest is the change a history entry records.
type EntryRequest struct {
	Method string `json:"method"`
	URL    string `json:"url"`
}

// EntryResponse is how that change was answered.
type EntryResponse struct {
	Status       string `json:"status"`
	Etag         string `json:"etag,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
}

// metadata answers the CapabilityStatement (public: clients read it before
// they sign in).
func (h *Handler) metadata(w http.ResponseWriter, r *http.Request) {
	fhir.Write(w, http.StatusOK, capability(h.base(r)))
}
