package patientapi_test

import (
	"net/http"
	"testing"
)

// FuzzWriteRequests feeds arbitrary bodies to create, replace and patch:
// decoding and validation must answer every one with a 2xx or 4xx, never a
// panic or a 500. `go test` runs the seeds; `go test -fuzz` explores.
func FuzzWriteRequests(f *testing.F) {
	for _, seed := range []string{
		`{"name":"Ada","email":"ada@example.com","address":"x","dateOfBirth":"1985-12-10"}`,
		`{"name":"Ada","email":"ada@example.com","address":"x","dateOfBirth":"1985-12-10","phone":"+1 (555) 010-0000","gender":"other","mrn":"A-1"}`,
		`{"name":"","email":"@","address":"","dateOfBirth":"2023-02-29","registeredDate":"1900-01-01"}`,
		`{"name":"\u0000","email":"a@b.c","address":"\t","dateOfBirth":"0001-01-01"}`,
		`{"name":null,"gender":null,"mrn":null}`,
		`{"name":["a"],"email":{},"dateOfBirth":1}`,
		`{"id":"x","version":1,"billingAccountId":"y"}`,
		`{}`, `[]`, `null`, `"s"`, `1e999`, `{"a":`, `{"name":"a"}{"name":"b"}`, ``,
		`{"name":"` + string(make([]byte, 300)) + `"}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		reg := &fakeRegistry{p: sample}
		for _, req := range []struct{ method, path, ctype string }{
			{http.MethodPost, "/patients", "application/json"},
			{http.MethodPut, "/patients/" + sample.ID, "application/json"},
			{http.MethodPatch, "/patients/" + sample.ID, "application/merge-patch+json"},
		} {
			rec := serve(reg, req.method, req.path, req.ctype, body, "If-Match", `"3"`)
			if rec.Code >= 500 || rec.Code < 200 {
				t.Fatalf("%s %s with %q: status %d: %s", req.method, req.path, body, rec.Code, rec.Body.String())
			}
		}
	})
}
