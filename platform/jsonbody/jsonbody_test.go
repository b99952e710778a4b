package jsonbody_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/pms-dapr/pms/platform/jsonbody"
)

func TestCheckNamesTheField(t *testing.T) {
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
		field, msg := jsonbody.Check([]byte(body))
		assert.Equal(t, want, [2]string{field, msg}, "%q", body)
	}
}

// A key given twice is refused at every depth, naming its path: two
// parsers reading the same body differently is how checks get bypassed.
func TestCheckRefusesDuplicateKeysAtEveryDepth(t *testing.T) {
	const twice = "is given twice; give each key once"
	for body, want := range map[string][2]string{
		`{"resourceType":"Observation","id":"1","resourceType":"Patient"}`: {"resourceType", twice},
		`{"id":"wrong","name":[],"id":"right"}`:                            {"id", twice},
		`{"meta":{"source":"a","source":"b"}}`:                             {"meta.source", twice},
		`{"name":[{"family":"A"},{"family":"B","family":"C"}]}`:            {"name[1].family", twice},
		`{"a":[[{"x":1,"x":2}]]}`:                                          {"a[0][0].x", twice},
		`{"a":{"k":1},"b":{"k":1}}`:                                        {"", ""},
		`[{"k":1},{"k":2}]`:                                                {"", ""},
		`{"a":[{"k":1},{"k":2}],"k":3}`:                                    {"", ""},
		`{"a":"x","A":"y"}`:                                                {"", ""},
		`{"a":1,"b":{"c":[1,2,{"d":null}]},"e":true,"e":false}`:            {"e", twice},
	} {
		field, msg := jsonbody.Check([]byte(body))
		assert.Equal(t, want, [2]string{field, msg}, "%s", body)
	}
}

func TestDecodeRefusesDuplicateKeys(t *testing.T) {
	var dst struct{ Role string }
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"Role":"clinician","Role":"admin"}`))
	req.Header.Set("Content-Type", "application/json")
	assert.False(t, jsonbody.Decode(rec, req, &dst, 1024))
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Contains(t, rec.Body.String(), `"field":"Role"`)
	assert.Empty(t, dst.Role, "nothing was decoded")
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

// BenchmarkCheck checks one line of a bulk import (a FHIR Patient).
func BenchmarkCheck(b *testing.B) {
	line := []byte(`{"address":[{"text":"812 Main St"}],"birthDate":"2012-04-27","gender":"female","identifier":[{"system":"http://pms.example.org/fhir/sid/mrn","value":"SYN-00000001"}],"name":[{"family":"Sato","given":["Mary"],"use":"official"}],"resourceType":"Patient","telecom":[{"system":"email","value":"syn-00000001@example.org"},{"system":"phone","value":"+1 555 0000001"}]}`)
	for b.Loop() {
		if f, _ := jsonbody.Check(line); f != "" {
			b.Fatal(f)
		}
	}
}
