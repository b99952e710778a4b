package patientapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/pms-dapr/pms/apps/patient-service/internal/patient"
	"github.com/pms-dapr/pms/platform/problem"
)

type patientRequest struct {
	Name           string `json:"name"`
	Email          string `json:"email"`
	Address        string `json:"address"`
	DateOfBirth    string `json:"dateOfBirth"`
	RegisteredDate string `json:"registeredDate"`
}

func (b patientRequest) draft() patient.Draft {
	return patient.Draft{Name: b.Name, Email: b.Email, Address: b.Address,
		DateOfBirth: b.DateOfBirth, RegisteredDate: b.RegisteredDate}
}

type patientResponse struct {
	ID               string `json:"id"`
	Name             string `json:"name"`
	Email            string `json:"email"`
	Address          string `json:"address"`
	DateOfBirth      string `json:"dateOfBirth"`
	RegisteredDate   string `json:"registeredDate"`
	BillingAccountID string `json:"billingAccountId,omitempty"`
}

type listResponse struct {
	Items []patientResponse `json:"items"`
}

func toResponse(p patient.Patient) patientResponse {
	return patientResponse{
		ID: p.ID, Name: p.Name, Email: p.Email, Address: p.Address,
		DateOfBirth:      p.DateOfBirth.Format(patient.DateLayout),
		RegisteredDate:   p.RegisteredDate.Format(patient.DateLayout),
		BillingAccountID: p.BillingAccountID,
	}
}

// decode reads one JSON object into dst, rejecting unknown fields, wrong
// types, trailing data and oversized bodies with a problem naming the
// offending field. It reports whether decoding succeeded.
func decode(w http.ResponseWriter, r *http.Request, dst any) bool {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		problem.Write(w, r, problem.New(http.StatusUnsupportedMediaType, "Send the body as application/json."))
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("trailing data after the JSON object")
	}
	if err == nil {
		return true
	}
	problem.Write(w, r, decodeProblem(err))
	return false
}

func decodeProblem(err error) problem.Details {
	var (
		maxErr    *http.MaxBytesError
		typeErr   *json.UnmarshalTypeError
		syntaxErr *json.SyntaxError
	)
	switch {
	case errors.As(err, &maxErr):
		return problem.New(http.StatusRequestEntityTooLarge, fmt.Sprintf("The body must be at most %d bytes.", MaxBodyBytes))
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return problem.New(http.StatusBadRequest, "The body must be a JSON object.")
		}
		return problem.Validation([]problem.FieldError{{Field: field, Message: "must be a " + jsonType(typeErr.Type.Kind().String())}})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return problem.Validation([]problem.FieldError{{Field: field, Message: "is not a known field"}})
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return problem.New(http.StatusBadRequest, "The body is not valid JSON.")
	case errors.Is(err, io.EOF):
		return problem.New(http.StatusBadRequest, "The body is empty; send a JSON object.")
	default:
		return problem.New(http.StatusBadRequest, "The body could not be read: "+err.Error())
	}
}

func jsonType(kind string) string {
	if kind == "struct" || kind == "map" {
		return "JSON object"
	}
	return kind
}
