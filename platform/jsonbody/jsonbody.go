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
	"slices"
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
	// encoding/json silently replaces invalid UTF-8 with U+FFFD and keeps
	// the last of two equal keys, and PostgreSQL refuses NUL: the client
	// learns which field, rather than having its data changed, read two
	// ways, or causing a 500.
	if field, msg := Check(raw); field != "" {
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

// Check finds the first thing in a JSON document that a decoder would
// silently change or that two readers could read differently, and returns
// where it is with what is wrong:
//   - a string (key or value) that is not valid UTF-8 (raw bytes or a lone
//     surrogate escape) or holds a NUL: the top-level field it belongs to
//     ("body" outside any field);
//   - a key given twice in one object, at any depth (encoding/json keeps
//     the last, another parser the first: a check on one copy could be
//     bypassed with the other): the key's path ("name", "meta.source",
//     "name[0].family").
//
// It returns "" for a document without one, including one that is not
// valid JSON (the decoder reports that).
func Check(raw []byte) (field, msg string) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	// A frame per open object or array: for an object the keys seen, the
	// current key and whether the next string is a key; for an array the
	// current index. A path is built from the frames only when one is
	// reported.
	type frame struct {
		object    bool
		keys      []string // objects have few keys: a scan beats a map
		key       string
		expectKey bool
		index     int
	}
	var stack []frame
	// valuePath is the path of the value about to be read.
	valuePath := func() string {
		var b strings.Builder
		for _, f := range stack {
			if f.object {
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(f.key)
			} else {
				fmt.Fprintf(&b, "[%d]", f.index)
			}
		}
		return b.String()
	}
	// topField is the top-level key the current token belongs to.
	topField := func() string {
		if len(stack) == 0 || !stack[0].object || stack[0].key == "" {
			return "body"
		}
		return stack[0].key
	}
	// consumed moves the enclosing container past one value.
	consumed := func() {
		if len(stack) == 0 {
			return
		}
		if f := &stack[len(stack)-1]; f.object {
			f.expectKey = true
		} else {
			f.index++
		}
	}
	for {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return "", ""
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				stack = append(stack, frame{object: d == '{', expectKey: d == '{'})
			case '}', ']':
				stack = stack[:len(stack)-1]
				consumed()
			}
			continue
		}
		top := len(stack) > 0 && stack[len(stack)-1].object && stack[len(stack)-1].expectKey
		if s, ok := tok.(string); ok {
			name := topField()
			if top && len(stack) == 1 {
				name = s
			}
			if m := stringProblem(s, raw[start:dec.InputOffset()]); m != "" {
				return name, m
			}
			if top {
				f := &stack[len(stack)-1]
				f.key, f.expectKey = s, false
				if slices.Contains(f.keys, s) {
					return valuePath(), "is given twice; give each key once"
				}
				f.keys = append(f.keys, s)
				continue
			}
		}
		consumed()
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
