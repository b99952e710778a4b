package validation_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/pms-dapr/pms/platform/validation"
)

func TestTextProblem(t *testing.T) {
	for v, want := range map[string]string{
		"Ada Lovelace":            "",
		"Zoë Ñúñez 李小龙":           "",
		"\u202eevil\u200b":        "", // RTL override and zero-width space are text
		"a\x00b":                  "must not contain control characters",
		"line\nbreak":             "must not contain control characters",
		"del\x7f":                 "must not contain control characters",
		"c1\u0085":                "must not contain control characters",
		"\xff":                    "must be valid UTF-8",
		"\xc0\xaf":                "must be valid UTF-8", // overlong '/'
		"'; DROP TABLE x; --\"{}": "",
	} {
		assert.Equal(t, want, validation.TextProblem(v, 0), "%q", v)
	}
	assert.Empty(t, validation.TextProblem(strings.Repeat("é", 10), 10), "characters, not bytes")
	assert.Equal(t, "must be at most 10 characters", validation.TextProblem(strings.Repeat("é", 11), 10))
}

func TestErrorListsFieldsInOrder(t *testing.T) {
	e := validation.New("patient")
	assert.NoError(t, e.Err())
	e.Text("name", "a\x00", 10)
	e.Add("email", "is required")
	e.Text("address", "fine", 10)
	assert.Equal(t, []validation.FieldError{{Field: "name", Message: "must not contain control characters"},
		{Field: "email", Message: "is required"}}, e.Fields)
	assert.EqualError(t, e.Err(), "invalid patient: name: must not contain control characters; email: is required")
}
