package fhirapi

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/pms-dapr/pms/apps/patient-service/internal/patient"
	"github.com/pms-dapr/pms/platform/fhir"
	"github.com/pms-dapr/pms/platform/jsonbody"
)

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
