// Package jsonbody decodes JSON request bodies strictly (one object, known
// fields only, bounded size) and answers every failure with a problem naming
// what was wrong, so no handler hand-rolls that logic.
package jsonbody

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/pms-dapr/pms/platform/problem"
)

// Decode reads one JSON object into dst, rejecting unknown fields, wrong
// types, trailing data and oversized bodies with a problem naming the
// offending field. It reports whether decoding succeeded.
func Decode(w http.ResponseWriter, r *http.Request, dst any, maxBytes int64) bool {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		problem.Write(w, r, problem.New(http.StatusUnsupportedMediaType, "Send the body as application/json."))
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBytes))
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("trailing data after the JSON object")
	}
	if err == nil {
		return true
	}
	problem.Write(w, r, Problem(err, maxBytes))
	return false
}

// Problem describes a JSON decoding error the way Decode answers it.
func Problem(err error, maxBytes int64) problem.Details {
	var (
		maxErr    *http.MaxBytesError
		typeErr   *json.UnmarshalTypeError
		syntaxErr *json.SyntaxError
	)
	switch {
	case errors.As(err, &maxErr):
		return problem.New(http.StatusRequestEntityTooLarge, fmt.Sprintf("The body must be at most %d bytes.", maxBytes))
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
