// Package fhir holds what the system's HL7 FHIR R4 API shares between the
// gateway and patient-service: the media type, OperationOutcome (FHIR's
// error resource) and the middleware that answers the platform's own
// problem+json errors as OperationOutcomes on FHIR routes.
package fhir

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/pms-dapr/pms/platform/problem"
	"github.com/pms-dapr/pms/platform/requestid"
)

// ContentType is the media type of every FHIR answer.
const ContentType = "application/fhir+json; charset=utf-8"

// Issue is one problem an OperationOutcome reports. Expression names the
// offending element (FHIRPath, e.g. Patient.birthDate).
type Issue struct {
	Severity    string   `json:"severity"`
	Code        string   `json:"code"`
	Diagnostics string   `json:"diagnostics,omitempty"`
	Expression  []string `json:"expression,omitempty"`
}

// OperationOutcome is FHIR's error (and warning) resource.
type OperationOutcome struct {
	ResourceType string  `json:"resourceType"`
	Issue        []Issue `json:"issue"`
}

// IssueCode is the FHIR issue type (http://hl7.org/fhir/issue-type) of an
// HTTP error status.
func IssueCode(status int) string {
	switch status {
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return "invalid"
	case http.StatusUnauthorized:
		return "login"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusNotFound:
		return "not-found"
	case http.StatusGone:
		return "deleted"
	case http.StatusConflict, http.StatusPreconditionFailed:
		return "conflict"
	case http.StatusPreconditionRequired, http.StatusLengthRequired:
		return "required"
	case http.StatusRequestEntityTooLarge:
		return "too-costly"
	case http.StatusMethodNotAllowed, http.StatusNotAcceptable, http.StatusUnsupportedMediaType:
		return "not-supported"
	case http.StatusTooManyRequests:
		return "throttled"
	case http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout:
		return "transient"
	}
	return "exception"
}

// Outcome is an OperationOutcome with one error issue for status.
func Outcome(status int, diagnostics string, expression ...string) OperationOutcome {
	return OperationOutcome{ResourceType: "OperationOutcome", Issue: []Issue{{
		Severity: "error", Code: IssueCode(status), Diagnostics: diagnostics, Expression: expression}}}
}

// Write answers v (a resource) with status as application/fhir+json.
func Write(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // links carry &; JSON needs no HTML escaping
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		_ = enc.Encode(Outcome(status, "The answer could not be encoded."))
	}
	b := buf.Bytes()
	w.Header().Set("Content-Type", ContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// WriteOutcome answers an error status with an OperationOutcome; a 503 also
// says when to try again.
func WriteOutcome(w http.ResponseWriter, status int, diagnostics string, expression ...string) {
	if status == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "2")
	}
	Write(w, status, Outcome(status, diagnostics, expression...))
}

// FromProblem is the OperationOutcome saying what problem d says: its
// detail (or title), and one issue per invalid field.
func FromProblem(d problem.Details, requestID string) OperationOutcome {
	msg := d.Detail
	if msg == "" {
		msg = d.Title
	}
	if requestID != "" {
		msg += " (request " + requestID + ")"
	}
	oo := Outcome(d.Status, msg)
	for _, f := range d.Errors {
		oo.Issue = append(oo.Issue, Issue{Severity: "error", Code: IssueCode(d.Status),
			Diagnostics: f.Field + " " + f.Message, Expression: []string{f.Field}})
	}
	return oo
}

// Errors makes the problem+json errors of what it wraps (authentication,
// routing, limits, an unavailable app) OperationOutcomes, so a FHIR client
// gets FHIR's error resource from every layer. Other answers pass through
// untouched.
func Errors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &catcher{ResponseWriter: w}
		next.ServeHTTP(cw, r)
		if !cw.caught {
			return
		}
		var d problem.Details
		if json.Unmarshal(cw.body.Bytes(), &d) != nil || d.Status != cw.status {
			d = problem.New(cw.status, http.StatusText(cw.status))
		}
		h := w.Header()
		h.Del("Content-Length")
		rid := d.RequestID
		if rid == "" {
			rid = requestid.From(r.Context())
		}
		Write(w, cw.status, FromProblem(d, rid))
	})
}

// catcher holds back a problem+json error answer for Errors to rewrite.
type catcher struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
	caught      bool
	body        bytes.Buffer
}

func (c *catcher) WriteHeader(code int) {
	if code >= 100 && code < 200 {
		// An interim answer (100 Continue, which a proxy relays when the
		// client sent Expect: 100-continue) is not the final status.
		c.ResponseWriter.WriteHeader(code)
		return
	}
	if c.wroteHeader {
		return
	}
	c.wroteHeader, c.status = true, code
	if code >= 400 && strings.HasPrefix(c.Header().Get("Content-Type"), problem.ContentType) {
		c.caught = true
		return
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *catcher) Write(b []byte) (int, error) {
	if !c.wroteHeader {
		c.WriteHeader(http.StatusOK)
	}
	if c.caught {
		if c.body.Len() < 64<<10 {
			c.body.Write(b)
		}
		return len(b), nil
	}
	return c.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (c *catcher) Unwrap() http.ResponseWriter { return c.ResponseWriter }
