// Package validation is the one shape every service gives to rejected
// input: an ordered list of fields, each with the reason it was refused.
// Domain packages build it; transports map it (problem.Invalid for HTTP,
// InvalidArgument with BadRequest details for gRPC), so clients see the
// same fields in the same order whatever they called.
package validation

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// FieldError names one invalid input field and why it was rejected.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error lists every invalid field of one input, in the order they were
// checked. What names the input in the message ("patient", "user").
type Error struct {
	What   string
	Fields []FieldError
}

// New returns an empty Error about what.
func New(what string) *Error { return &Error{What: what} }

// Field returns an Error about what with the single field.
func Field(what, field, msg string) *Error {
	e := New(what)
	e.Add(field, msg)
	return e
}

// Add records that field was rejected for msg.
func (e *Error) Add(field, msg string) { e.Fields = append(e.Fields, FieldError{field, msg}) }

// Err returns e if any field was rejected, else nil.
func (e *Error) Err() error {
	if len(e.Fields) == 0 {
		return nil
	}
	return e
}

func (e *Error) Error() string {
	msgs := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		msgs[i] = f.Field + ": " + f.Message
	}
	what := e.What
	if what == "" {
		what = "input"
	}
	return "invalid " + what + ": " + strings.Join(msgs, "; ")
}

// TextProblem says what is wrong with v as text from outside, or "" when
// nothing is: it must be valid UTF-8, hold no control character (C0, DEL or
// C1; PostgreSQL refuses NUL and invalid UTF-8 outright) and have at most
// max characters (max <= 0: no limit).
func TextProblem(v string, max int) string {
	if !utf8.ValidString(v) {
		return "must be valid UTF-8"
	}
	for _, r := range v {
		if r < 0x20 || (r >= 0x7f && r <= 0x9f) {
			return "must not contain control characters"
		}
	}
	if max > 0 && utf8.RuneCountInString(v) > max {
		return "must be at most " + strconv.Itoa(max) + " characters"
	}
	return ""
}

// Unstorable reports whether s is text PostgreSQL refuses to store:
// invalid UTF-8 or a NUL character. Transports refuse such input before it
// reaches a store, and test fakes refuse what the database would, so a fake
// cannot accept what production cannot store.
func Unstorable(s string) bool {
	return !utf8.ValidString(s) || strings.ContainsRune(s, 0)
}

// Text records field as rejected when v is not acceptable text (see
// TextProblem).
func (e *Error) Text(field, v string, max int) {
	if msg := TextProblem(v, max); msg != "" {
		e.Add(field, msg)
	}
}
