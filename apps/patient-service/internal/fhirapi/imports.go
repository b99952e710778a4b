package fhirapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/pms-dapr/pms/apps/patient-service/internal/patient"
	"github.com/pms-dapr/pms/platform/fhir"
	"github.com/pms-dapr/pms/platform/jsonbody"
)

// Bulk import, in the shape of FHIR Bulk Data's asynchronous pattern: POST
// [base]/$import with the patients as NDJSON answers 202 and a status URL
// (Content-Location); a GET of it answers 202 with X-Progress while the
// import runs and 200 with a manifest once it is done, whose error file
// holds one OperationOutcome per refused line.

// MaxImportBytes bounds one import's body: about 250,000 patients of 500
// bytes. A larger registry is sent in parts (pmsrun import splits a file).
const MaxImportBytes = 128 << 20

// NDJSONType is the media type of an import's body and of its error file.
const NDJSONType = "application/fhir+ndjson"

// LineExtension is the URL of the extension by which an error file's
// OperationOutcome names its line in the imported file.
const LineExtension = "https://pms.example.org/fhir/StructureDefinition/import-line"

// Importer is what the import handlers need from the domain.
type Importer interface {
	Submit(ctx context.Context, a patient.Actor, body io.Reader) (patient.ImportJob, error)
	Status(ctx context.Context, a patient.Actor, id string) (patient.ImportJob, error)
	Errors(ctx context.Context, a patient.Actor, id string, after, limit int) ([]patient.LineError, error)
}

// Decoder reads import lines as the FHIR API reads a Patient: the same
// mapping, the same refusals, by element.
type Decoder struct{ MRNSystem string }

// Decode reads one line.
func (d Decoder) Decode(body []byte) (patient.Draft, []patient.LineIssue) {
	if field, msg := jsonbody.Check(body); field != "" {
		return patient.Draft{}, []patient.LineIssue{{Expression: "Patient." + field, Message: "Patient." + field + " " + msg}}
	}
	_, draft, err := decodePatient(body, d.MRNSystem)
	if err != nil {
		return patient.Draft{}, d.Explain(err)
	}
	return draft, nil
}

// Explain says by element what is wrong in err (a refusal of the mapping
// or of the domain's validation).
func (Decoder) Explain(err error) []patient.LineIssue {
	_, fields, ok := outcomeOf(err)
	if !ok {
		return []patient.LineIssue{{Expression: "Patient", Message: err.Error()}}
	}
	out := make([]patient.LineIssue, len(fields))
	for i, f := range fields {
		out[i] = patient.LineIssue{Expression: f.expression, Message: f.expression + ": " + f.message}
	}
	return out
}

// startImport receives an import.
func (h *Handler) startImport(w http.ResponseWriter, r *http.Request) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != NDJSONType && mt != "application/ndjson" && mt != "application/x-ndjson") {
		fhir.WriteOutcome(w, http.StatusUnsupportedMediaType, "Send the patients as "+NDJSONType+": one Patient resource per line.")
		return
	}
	job, err := h.imports.Submit(r.Context(), actor(r), http.MaxBytesReader(w, r.Body, MaxImportBytes))
	var tooLarge *http.MaxBytesError
	var unreadable *patient.UnreadableError
	switch {
	case errors.As(err, &tooLarge):
		fhir.WriteOutcome(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("An import must be at most %d bytes; send a larger file in parts.", MaxImportBytes))
		return
	case errors.As(err, &unreadable):
		fhir.WriteOutcome(w, http.StatusBadRequest, "The body could not be read to its end; nothing of it was kept.")
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Location", h.base(r)+"/$import-status/"+job.ID)
	oo := fhir.OperationOutcome{ResourceType: "OperationOutcome", Issue: []fhir.Issue{{Severity: "information", Code: "informational",
		Diagnostics: fmt.Sprintf("Import %s accepted: %d patients. Its status is at Content-Location.", job.ID, job.Lines)}}}
	fhir.Write(w, http.StatusAccepted, oo)
}

// Manifest is a finished import's answer.
type Manifest struct {
	TransactionTime     string         `json:"transactionTime"`
	Request             string         `json:"request"`
	RequiresAccessToken bool           `json:"requiresAccessToken"`
	Output              []ManifestFile `json:"output"`
	Error               []ManifestFile `json:"error"`
	Extension           ManifestCounts `json:"extension"`
}

// ManifestFile is one file a manifest lists.
type ManifestFile struct {
	Type  string `json:"type"`
	URL   string `json:"url,omitempty"`
	Count int    `json:"count"`
}

// ManifestCounts says what the import did with its lines.
type ManifestCounts struct {
	Lines     int `json:"lines"`
	Imported  int `json:"imported"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	Rejected  int `json:"rejected"`
}

// importStatus answers an import's progress or its manifest.
func (h *Handler) importStatus(w http.ResponseWriter, r *http.Request) {
	job, err := h.imports.Status(r.Context(), actor(r), chi.URLParam(r, "id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !job.Done() {
		progress := fmt.Sprintf("%d of %d patients done", job.Lines-job.Pending, job.Lines)
		w.Header().Set("X-Progress", progress)
		w.Header().Set("Retry-After", "1")
		fhir.Write(w, http.StatusAccepted, fhir.OperationOutcome{ResourceType: "OperationOutcome", Issue: []fhir.Issue{{
			Severity: "information", Code: "informational", Diagnostics: "Import " + job.ID + " running: " + progress + "."}}})
		return
	}
	status := h.base(r) + "/$import-status/" + job.ID
	c := job.Counts
	m := Manifest{
		TransactionTime:     instant(job.FinishedAt),
		Request:             h.base(r) + "/$import",
		RequiresAccessToken: true,
		Output:              []ManifestFile{{Type: "Patient", Count: c.Imported + c.Updated + c.Unchanged}},
		Error:               []ManifestFile{},
		Extension:           ManifestCounts{Lines: job.Lines, Imported: c.Imported, Updated: c.Updated, Unchanged: c.Unchanged, Rejected: c.Rejected},
	}
	if c.Rejected > 0 {
		m.Error = append(m.Error, ManifestFile{Type: "OperationOutcome", URL: status + "/errors", Count: c.Rejected})
	}
	b, err := json.Marshal(m)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Expires", job.FinishedAt.Add(30*24*time.Hour).UTC().Format(http.TimeFormat))
	_, _ = w.Write(b)
}

// importErrors answers an import's error file: one OperationOutcome per
// refused line, in line order, each naming its line (LineExtension and
// its diagnostics) and the elements at fault.
func (h *Handler) importErrors(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	const page = 1000
	es, err := h.imports.Errors(r.Context(), actor(r), id, 0, page)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", NDJSONType)
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for len(es) > 0 {
		for _, e := range es {
			if err := enc.Encode(lineOutcome(e)); err != nil {
				return
			}
		}
		if len(es) < page {
			break
		}
		if es, err = h.imports.Errors(r.Context(), actor(r), id, es[len(es)-1].Line, page); err != nil {
			// The answer has begun: it ends short, and the log says why.
			h.log.ErrorContext(r.Context(), "import error file cut short", "import_id", id, "err", err)
			break
		}
	}
	_ = bw.Flush()
}

// lineExtension names the line of an error file's OperationOutcome.
type lineExtension struct {
	URL          string `json:"url"`
	ValueInteger int    `json:"valueInteger"`
}

// lineOutcomeJSON is an OperationOutcome with its line's extension.
type lineOutcomeJSON struct {
	ResourceType string          `json:"resourceType"`
	Extension    []lineExtension `json:"extension"`
	Issue        []fhir.Issue    `json:"issue"`
}

func lineOutcome(e patient.LineError) lineOutcomeJSON {
	oo := lineOutcomeJSON{ResourceType: "OperationOutcome", Extension: []lineExtension{{URL: LineExtension, ValueInteger: e.Line}}}
	for _, is := range e.Issues {
		oo.Issue = append(oo.Issue, fhir.Issue{Severity: "error", Code: "invalid",
			Diagnostics: "line " + strconv.Itoa(e.Line) + ": " + is.Message, Expression: []string{is.Expression}})
	}
	return oo
}
