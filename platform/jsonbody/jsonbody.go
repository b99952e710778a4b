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
// It returns "" for a document without one. A document that is not valid
// JSON may get either answer: the decoder refuses it anyway.
//
// A document of valid UTF-8 is read in one pass over its bytes, decoding
// only the strings that hold an escape (only an escape can hide a NUL or
// a lone surrogate there); one that is not, token by token, which names
// the field of its first bad string. Both read a valid document alike
// (TestCheckScanAgreesWithTokens); the pass over bytes costs a fifth
// (BenchmarkCheck, BenchmarkCheckTokens).
func Check(raw []byte) (field, msg string) {
	if !utf8.Valid(raw) {
		return checkTokens(raw)
	}
	return checkScan(raw)
}

// frame is an open object or array: for an object the keys seen, the
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

// pathOf is the path of the value about to be read in stack.
func pathOf(stack []frame) string {
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

// topFieldOf is the top-level key the current token belongs to.
func topFieldOf(stack []frame) string {
	if len(stack) == 0 || !stack[0].object || stack[0].key == "" {
		return "body"
	}
	return stack[0].key
}

// consumedIn moves the innermost container of stack past one value.
func consumedIn(stack []frame) {
	if len(stack) == 0 {
		return
	}
	if f := &stack[len(stack)-1]; f.object {
		f.expectKey = true
	} else {
		f.index++
	}
}

// onString checks one string of the document, s decoded and quoted as
// it stands in the document (nil: a string of valid UTF-8 without an
// escape, which has nothing to check); a key is remembered in its object.
func onString(stack []frame, s string, quoted []byte) (field, msg string) {
	top := len(stack) > 0 && stack[len(stack)-1].object && stack[len(stack)-1].expectKey
	if quoted != nil {
		if m := stringProblem(s, quoted); m != "" {
			if top && len(stack) == 1 {
				return s, m
			}
			return topFieldOf(stack), m
		}
	}
	if !top {
		consumedIn(stack)
		return "", ""
	}
	f := &stack[len(stack)-1]
	f.key, f.expectKey = s, false
	if slices.Contains(f.keys, s) {
		return pathOf(stack), "is given twice; give each key once"
	}
	f.keys = append(f.keys, s)
	return "", ""
}

// checkScan is Check's pass over the bytes of a document of valid UTF-8.
func checkScan(raw []byte) (field, msg string) {
	var stack []frame
	for i := 0; i < len(raw); {
		switch c := raw[i]; c {
		case ' ', '\t', '\n', '\r', ',', ':':
			i++
		case '{', '[':
			stack = append(stack, frame{object: c == '{', expectKey: c == '{'})
			i++
		case '}', ']':
			if len(stack) == 0 {
				return "", "" // not JSON: the decoder says so
			}
			stack = stack[:len(stack)-1]
			consumedIn(stack)
			i++
		case '"':
			end, escaped := stringEnd(raw, i)
			if end < 0 {
				return "", ""
			}
			quoted := raw[i : end+1]
			var s string
			if escaped {
				if json.Unmarshal(quoted, &s) != nil {
					return "", ""
				}
			} else {
				s, quoted = string(quoted[1:len(quoted)-1]), nil
			}
			if field, msg := onString(stack, s, quoted); field != "" {
				return field, msg
			}
			i = end + 1
		default: // a number, true, false or null
			for i < len(raw) && !strings.ContainsRune(" \t\n\r,:]}", rune(raw[i])) {
				i++
			}
			consumedIn(stack)
		}
	}
	return "", ""
}

// stringEnd is the index of the quote that ends the string starting at
// raw[start] (-1 if none), and whether the string holds an escape.
func stringEnd(raw []byte, start int) (int, bool) {
	escaped := false
	for i := start + 1; i < len(raw); i++ {
		switch raw[i] {
		case '\\':
			escaped = true
			i++
		case '"':
			return i, escaped
		}
	}
	return -1, escaped
}

// checkTokens is Check read token by token with encoding/json, for a
// document that is not valid UTF-8.
func checkTokens(raw []byte) (field, msg string) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	var stack []frame
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
				stack = append(stack, frame{object: t == '{', expectKey: t == '{'})
			case '}', ']':
				stack = stack[:len(stack)-1]
				consumedIn(stack)
			}
		case string:
			if field, msg := onString(stack, t, raw[start:dec.InputOffset()]); field != "" {
				return field, msg
			}
		default:
			consumedIn(stack)
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
