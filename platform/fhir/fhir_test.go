package fhir_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/platform/fhir"
	"github.com/pms-dapr/pms/platform/problem"
)

func TestErrorsTurnsProblemsIntoOperationOutcomes(t *testing.T) {
	h := fhir.Errors(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "2")
		d := problem.Validation([]problem.FieldError{{Field: "path", Message: "must be canonical"}})
		d.Status = http.StatusServiceUnavailable
		problem.Write(w, r, d)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/fhir/R4/Patient", nil))
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Equal(t, fhir.ContentType, rec.Header().Get("Content-Type"))
	assert.Equal(t, "2", rec.Header().Get("Retry-After"), "headers the error set are kept")
	var oo fhir.OperationOutcome
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &oo))
	assert.Equal(t, "OperationOutcome", oo.ResourceType)
	require.Len(t, oo.Issue, 2)
	assert.Equal(t, "transient", oo.Issue[0].Code)
	assert.Equal(t, []string{"path"}, oo.Issue[1].Expression)
}

func TestErrorsPassesEverythingElse(t *testing.T) {
	for _, c := range []struct {
		status int
		ct     string
	}{{http.StatusOK, fhir.ContentType}, {http.StatusNotFound, fhir.ContentType}, {http.StatusNoContent, ""}} {
		h := fhir.Errors(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if c.ct != "" {
				w.Header().Set("Content-Type", c.ct)
			}
			w.WriteHeader(c.status)
			_, _ = w.Write([]byte(`{"resourceType":"Patient"}`))
		}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/fhir/R4/Patient/1", nil))
		assert.Equal(t, c.status, rec.Code)
		if c.status != http.StatusNoContent {
			assert.JSONEq(t, `{"resourceType":"Patient"}`, rec.Body.String())
		}
	}
}

func TestIssueCodes(t *testing.T) {
	for status, code := range map[int]string{400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 410: "deleted",
		412: "conflict", 415: "not-supported", 428: "required", 429: "throttled", 503: "transient", 500: "exception"} {
		assert.Equal(t, code, fhir.IssueCode(status), status)
	}
}

// A client that sends Expect: 100-continue gets the interim 100 Continue
// the upstream sends through a proxy, and then the real status: an error
// answer is never turned into a 200.
func TestErrorsKeepTheFinalStatusAfter100Continue(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body) // reading the body sends 100 Continue
		d := problem.New(http.StatusPreconditionFailed, "the record changed")
		problem.Write(w, r, d)
	}))
	defer upstream.Close()
	target, err := url.Parse(upstream.URL)
	require.NoError(t, err)
	gw := httptest.NewServer(fhir.Errors(httputil.NewSingleHostReverseProxy(target)))
	defer gw.Close()

	for _, expect := range []string{"", "100-continue"} {
		req, err := http.NewRequest(http.MethodPut, gw.URL+"/fhir/R4/Patient/1", strings.NewReader(`{"resourceType":"Patient"}`))
		require.NoError(t, err)
		req.Header.Set("Content-Type", fhir.ContentType)
		if expect != "" {
			req.Header.Set("Expect", expect)
		}
		resp, err := (&http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Second}}).Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusPreconditionFailed, resp.StatusCode, "Expect %q: %s", expect, body)
		assert.Contains(t, string(body), `"OperationOutcome"`)
	}
}
