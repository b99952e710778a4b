// Package problem writes RFC 9457 problem details (application/problem+json),
// the one error format every HTTP API of the system answers with.
package problem

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/pms-dapr/pms/platform/validation"
)

// ContentType is the media type of a problem document.
const ContentType = "application/problem+json"

// FieldError names one invalid input field and why it was rejected.
type FieldError = validation.FieldError

// Details is an RFC 9457 problem document. Errors lists the offending fields
// of a validation failure.
type Details struct {
	Type      string       `json:"type"`
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Detail    string       `json:"detail,omitempty"`
	Instance  string       `json:"instance,omitempty"`
	RequestID string       `json:"requestId,omitempty"`
	Errors    []FieldError `json:"errors,omitempty"`
}

// New returns a problem of the given status with the standard status text as
// its title and "about:blank" as its type.
func New(status int, detail string) Details {
	return Details{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail}
}

// Validation returns a 400 problem listing each bad field.
func Validation(fields []FieldError) Details {
	d := New(http.StatusBadRequest, "The request has invalid fields.")
	d.Type = "https://pms.example/problems/validation"
	d.Title = "Validation failed"
	d.Errors = fields
	return d
}

// Invalid maps a *validation.Error anywhere in err's chain to its 400
// problem, in the order the fields were checked.
func Invalid(err error) (Details, bool) {
	var verr *validation.Error
	if !errors.As(err, &verr) {
		return Details{}, false
	}
	return Validation(verr.Fields), true
}

// Write sends d as the response, filling instance and request id from r.
func Write(w http.ResponseWriter, r *http.Request, d Details) {
	if r != nil {
		if d.Instance == "" {
			d.Instance = r.URL.Path
		}
		if d.RequestID == "" {
			d.RequestID = r.Header.Get("X-Request-Id")
		}
	}
	w.Header().Set("Content-Type", ContentType)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(d.Status)
	_ = json.NewEncoder(w).Encode(d)
}

// WriteUnavailable answers 503 with Retry-After: a dependency is down or
// restarting, so the request may well succeed in a moment.
func WriteUnavailable(w http.ResponseWriter, r *http.Request, retryAfterSeconds int, detail string) {
	w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	Write(w, r, New(http.StatusServiceUnavailable, detail))
}

// NotFound answers 404 for a path no route serves.
func NotFound(w http.ResponseWriter, r *http.Request) {
	Write(w, r, New(http.StatusNotFound, "No such resource."))
}

// MethodNotAllowed answers 405 for a method a route does not serve.
func MethodNotAllowed(w http.ResponseWriter, r *http.Request) {
	Write(w, r, New(http.StatusMethodNotAllowed, "Method not allowed on this resource."))
}
