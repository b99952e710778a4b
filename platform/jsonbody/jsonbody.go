// Package jsonbody decodes JSON request bodies strictly (one object, known
// fields only, bounded size) and answers every failure with a problem naming
// what was wrong, so no handler hand-rolls that logic.
package jsonbody

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

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
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBytes))
	if err != nil {
		problem.Write(w, r, Problem(err, maxBytes))
		return false
	}
	// encoding/json silently replaces invalid UTF-8 with U+FFFD, and
	// PostgreSQL refuses NUL: the client learns which field, rather than
	// having its data changed or causing a 500.
	if field, msg := BadString(raw); field != "" {
		problem.Write(w, r, problem.Validation([]problem.FieldError{{Field: field, Message: msg}}))
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err = dec.Decode(dst)
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

// BadString finds the first string of a JSON document (key or value) that
// is not valid UTF-8 (raw bytes or a lone surrogate escape) or holds a NUL,
// and returns the top-level field it belongs to ("body" outside any field)
// with what is wrong. It returns "" for a document without one, including
// one that is not valid JSON (the decoder reports that).
func BadString(raw []byte) (field, msg string) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	var (
		depth     int
		key       string // current top-level key
		expectKey bool   // the next string at depth 1 is a key
	)
	for {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return "", ""
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				depth++
				expectKey = t == '{' && depth == 1
			case '}', ']':
				depth--
				expectKey = depth == 1
			}
			continue
		case string:
			name := key
			if depth == 1 && expectKey {
				name = t
			}
			if name == "" {
				name = "body"
			}
			if m := stringProblem(t, raw[start:dec.InputOffset()]); m != "" {
				return name, m
			}
			if depth == 1 && expectKey {
				key, expectKey = t, false
				continue
			}
		}
		if depth == 1 {
			expectKey = true
		}
	}
}

// stringProblem checks one decoded string against its raw JSON bytes.
func stringProblem(decoded string, raw []byte) string {
	replaced := strings.ContainsRune(decoded, utf8.RuneError) &&
		!bytes.Contains(raw, []byte("\xef\xbf\xbd")) && !bytes.Contains(bytes.ToLower(raw), []byte(`\ufffd`))
	switch {
	case !utf8.Valid(raw) || replaced:
		return "must be valid UTF-8"
	case strings.ContainsRune(decoded, 0):
		return "must not contain NUL characters"
	}
	return ""
}

func jsonType(kind string) string {
	if kind == "struct" || kind == "map" {
		return "JSON object"
	}
	return kind
}
