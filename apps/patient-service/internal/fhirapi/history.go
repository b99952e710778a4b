package fhirapi

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/pms-dapr/pms/apps/patient-service/internal/patient"
	"github.com/pms-dapr/pms/platform/fhir"
)

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
	e.Resource = Resource(p, mrnSystem)
	return e
}
