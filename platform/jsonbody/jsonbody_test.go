package jsonbody_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/pms-dapr/pms/platform/jsonbody"
)

func TestBadStringNamesTheField(t *testing.T) {
	for body, want := range map[string][2]string{
		`{"name":"Ada","email":"a@b.c"}`:             {"", ""},
		`{"name":"Zoë 李","note":"\ufffd kept"}`:      {"", ""},
		"{\"name\":\"\xef\xbf\xbd literal\"}":        {"", ""},
		"{\"name\":\"\xff\xfe\"}":                    {"name", "must be valid UTF-8"},
		"{\"name\":\"ok\",\"email\":\"a\xc0\xafb\"}": {"email", "must be valid UTF-8"},
		`{"email":"a\u0000@b.c"}`:                    {"email", "must not contain NUL characters"},
		`{"address":"\ud800"}`:                       {"address", "must be valid UTF-8"},
		"{\"na\xffme\":\"x\"}":                       {"na\ufffdme", "must be valid UTF-8"},
		`{"tags":["ok","bad\u0000"]}`:                {"tags", "must not contain NUL characters"},
		`{"n":{"inner":"\u0000"}}`:                   {"n", "must not contain NUL characters"},
		`"\u0000"`:                                   {"body", "must not contain NUL characters"},
		`{"a":1,"b":true,"c":null,"d":"\u0000"}`:     {"d", "must not contain NUL characters"},
		`not json`:                                   {"", ""},
		`{"a":{"b":"c"},"d":"\u0000"}`:               {"d", "must not contain NUL characters"},
		`{"a":[1,{"x":"y"}],"d":"\u0000"}`:           {"d", "must not contain NUL characters"},
		`{"a":[],"b":{},"d":"\u0000"}`:               {"d", "must not contain NUL characters"},
	} {
		field, msg := jsonbody.BadString([]byte(body))
		assert.Equal(t, want, [2]string{field, msg}, "%q", body)
	}
}

func TestDecodeRefusesInvalidUTF8WithTheField(t *testing.T) {
	var dst struct{ Name string }
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{\"Name\":\"\xc3\x28\"}"))
	req.Header.Set("Content-Type", "application/json")
	assert.False(t, jsonbody.Decode(rec, req, &dst, 1024))
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Contains(t, rec.Body.String(), `"field":"Name"`)
	assert.Empty(t, dst.Name, "nothing was decoded")
}
