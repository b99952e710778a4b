package patientapi_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
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

// FuzzQueriesHeadersAndIDs feeds arbitrary search parameters, path ids,
// If-Match and Idempotency-Key values to the handlers. The fake registry
// refuses what PostgreSQL refuses (NUL, invalid UTF-8) with an error the
// handlers would answer 500, so any text that slips past validation fails
// here. Every answer must be 2xx or 4xx.
func FuzzQueriesHeadersAndIDs(f *testing.F) {
	f.Add("Ada", "ada@example.com", "MRN-1", "ada", "", "20", "1985-12-10", sample.ID, `"3"`, "key-1")
	f.Add("\x00", "a\x00b@x.com", "\x00", "\xff", "%%%", "-1", "1985-02-30", "\x00", "\xff", "\x00")
	f.Add("\xc0\xaf", "", "", "\u202e\u200b", "not-a-cursor", "1e9", "tomorrow", "%FF", `W/"1"`, "\r\nX: y")
	f.Add(strings.Repeat("a", 10000), "", "", "' OR 1=1 --", "", "", "", strings.Repeat("9", 40), `"0"`, strings.Repeat("k", 300))
	f.Fuzz(func(t *testing.T, name, email, mrn, q, cursor, limit, birthDate, id, ifMatch, key string) {
		reg := &fakeRegistry{p: sample}
		query := url.Values{"name": {name}, "email": {email}, "mrn": {mrn}, "q": {q}, "cursor": {cursor},
			"limit": {limit}, "birthDate": {birthDate}}
		check := func(rec *httptest.ResponseRecorder, what string) {
			if rec.Code < 200 || rec.Code >= 500 {
				t.Fatalf("%s: status %d: %s", what, rec.Code, rec.Body.String())
			}
		}
		check(serve(reg, http.MethodGet, "/patients?"+query.Encode(), "", ""), "search "+query.Encode())
		path := "/patients/" + url.PathEscape(id)
		check(serve(reg, http.MethodGet, path, "", ""), "get "+path)
		check(serve(reg, http.MethodGet, path+"/audit", "", ""), "audit "+path)
		if validHeader(ifMatch) {
			body := `{"name":"Ada","email":"ada@example.com","address":"x","dateOfBirth":"1985-12-10"}`
			check(serve(reg, http.MethodPut, path, "application/json", body, "If-Match", ifMatch), "put If-Match "+ifMatch)
			check(serve(reg, http.MethodDelete, path, "", "", "If-Match", ifMatch), "delete If-Match "+ifMatch)
		}
		if validHeader(key) {
			body := `{"name":"Ada","email":"ada@example.com","address":"x","dateOfBirth":"1985-12-10"}`
			check(serve(reg, http.MethodPost, "/patients", "application/json", body, "Idempotency-Key", key), "create key "+key)
		}
	})
}

// validHeader reports whether v can travel as an HTTP header value at all
// (a client cannot send the others).
func validHeader(v string) bool {
	return !strings.ContainsAny(v, "\r\n\x00")
}
