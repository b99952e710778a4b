package patientapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/go-chi/chi/v5"

	"github.com/pms-dapr/pms/apps/patient-service/internal/patient"
	"github.com/pms-dapr/pms/platform/httpserver"
	"github.com/pms-dapr/pms/platform/jsonbody"
	"github.com/pms-dapr/pms/platform/problem"
	"github.com/pms-dapr/pms/platform/validation"
)

func (h *Handler) create(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Idempotency-Key")
	if !patient.ValidIdempotencyKey(key) {
		problem.Write(w, r, problem.Validation([]problem.FieldError{{Field: "Idempotency-Key", Message: "must be 1 to 255 visible ASCII characters"}}))
		return
	}
	var body patientRequest
	if !jsonbody.Decode(w, r, &body, MaxBodyBytes) {
		return
	}
	p, replayed, err := h.reg.Create(r.Context(), actor(r), body.draft(), key)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	w.Header().Set("Location", "/patients/"+p.ID)
	writePatient(w, http.StatusCreated, p)
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request) {
	p, err := h.reg.Get(r.Context(), actor(r), chi.URLParam(r, "id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writePatient(w, http.StatusOK, p)
}

func (h *Handler) search(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	deleted, err := parseBool(v.Get("deleted"))
	if err != nil {
		problem.Write(w, r, problem.Validation([]problem.FieldError{{Field: "deleted", Message: "must be true or false"}}))
		return
	}
	q, err := patient.QueryInput{Name: v.Get("name"), Email: v.Get("email"), MRN: v.Get("mrn"), BirthDate: v.Get("birthDate"),
		Q: v.Get("q"), Cursor: v.Get("cursor"), Limit: v.Get("limit"), Deleted: deleted}.Parse()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	page, err := h.reg.Search(r.Context(), actor(r), q)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := listResponse{Items: make([]patientResponse, len(page.Items))}
	for i, p := range page.Items {
		out.Items[i] = toResponse(p)
	}
	if page.Next != nil {
		out.Next = nextPage("/patients", v, page.Next.Encode())
	}
	httpserver.WriteJSON(w, http.StatusOK, out)
}

func parseBool(s string) (bool, error) {
	if s == "" {
		return false, nil
	}
	return strconv.ParseBool(s)
}

func (h *Handler) replace(w http.ResponseWriter, r *http.Request) {
	version, ok := httpserver.IfMatch(w, r)
	if !ok {
		return
	}
	var body patientRequest
	if !jsonbody.Decode(w, r, &body, MaxBodyBytes) {
		return
	}
	p, err := h.reg.Replace(r.Context(), actor(r), chi.URLParam(r, "id"), version, body.draft())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writePatient(w, http.StatusOK, p)
}

// patch applies a JSON merge patch (RFC 7396) to the patient's
// client-writable fields.
func (h *Handler) patch(w http.ResponseWriter, r *http.Request) {
	version, ok := httpserver.IfMatch(w, r)
	if !ok {
		return
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/merge-patch+json" && mt != "application/json") {
		problem.Write(w, r, problem.New(http.StatusUnsupportedMediaType, "Send the patch as application/merge-patch+json."))
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		problem.Write(w, r, problem.New(http.StatusRequestEntityTooLarge, fmt.Sprintf("The body must be at most %d bytes.", MaxBodyBytes)))
		return
	}
	if field, msg := jsonbody.Check(raw); field != "" {
		problem.Write(w, r, problem.Validation([]problem.FieldError{{Field: field, Message: msg}}))
		return
	}
	var probe map[string]json.RawMessage
	if json.Unmarshal(raw, &probe) != nil {
		problem.Write(w, r, problem.New(http.StatusBadRequest, "The patch must be a JSON object."))
		return
	}
	p, err := h.reg.Patch(r.Context(), actor(r), chi.URLParam(r, "id"), version, func(cur patient.Draft) (patient.Draft, error) {
		return applyMergePatch(cur, raw)
	})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writePatient(w, http.StatusOK, p)
}

// applyMergePatch merges patch into cur's JSON form and decodes the result
// strictly: a field the API does not know is a validation error.
func applyMergePatch(cur patient.Draft, patch []byte) (patient.Draft, error) {
	doc, _ := json.Marshal(fromDraft(cur))
	merged, err := jsonpatch.MergePatch(doc, patch)
	if err != nil {
		return patient.Draft{}, validation.Field("patient", "body", "is not a valid merge patch")
	}
	dec := json.NewDecoder(bytes.NewReader(merged))
	dec.DisallowUnknownFields()
	var next patientRequest
	if err := dec.Decode(&next); err != nil {
		d := jsonbody.Problem(err, MaxBodyBytes)
		fields := make([]validation.FieldError, len(d.Errors))
		for i, f := range d.Errors {
			fields[i] = f
		}
		if len(fields) == 0 {
			fields = []validation.FieldError{{Field: "body", Message: d.Detail}}
		}
		return patient.Draft{}, &validation.Error{What: "patient", Fields: fields}
	}
	return next.draft(), nil
}

func (h *Handler) delete(w http.ResponseWriter, r *http.Request) {
	version, ok := httpserver.IfMatch(w, r)
	if !ok {
		return
	}
	if err := h.reg.Delete(r.Context(), actor(r), chi.URLParam(r, "id"), version); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) audit(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	q, err := patient.AuditQueryInput{Action: v.Get("action"), Cursor: v.Get("cursor"), Limit: v.Get("limit")}.Parse()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	id := chi.URLParam(r, "id")
	page, err := h.reg.AuditTrail(r.Context(), actor(r), id, q)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := auditResponse{Items: make([]auditEntry, len(page.Items))}
	for i, e := range page.Items {
		out.Items[i] = auditEntry{At: e.At.Format(time.RFC3339Nano), UserID: e.UserID, Role: e.Role, Action: e.Action,
			PatientIDs: e.PatientIDs, RequestID: e.RequestID, Outcome: e.Outcome, Detail: e.Detail}
	}
	if page.Next != 0 {
		out.Next = nextPage("/patients/"+id+"/audit", v, patient.EncodeAuditCursor(page.Next))
	}
	httpserver.WriteJSON(w, http.StatusOK, out)
}

// nextPage is path with the query v asked for and the next page's cursor.
func nextPage(path string, v url.Values, cursor string) string {
	next := url.Values{}
	for k, vs := range v {
		if k != "cursor" {
			next[k] = vs
		}
	}
	next.Set("cursor", cursor)
	return path + "?" + next.Encode()
}

func writePatient(w http.ResponseWriter, status int, p patient.Patient) {
	w.Header().Set("ETag", httpserver.ETag(p.Version))
	httpserver.WriteJSON(w, status, toResponse(p))
}
