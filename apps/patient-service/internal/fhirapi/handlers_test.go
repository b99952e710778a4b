package fhirapi_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/apps/patient-service/internal/fhirapi"
	"github.com/pms-dapr/pms/apps/patient-service/internal/patient"
	"github.com/pms-dapr/pms/apps/patient-service/internal/patient/patienttest"
	"github.com/pms-dapr/pms/platform/authn"
	"github.com/pms-dapr/pms/platform/authn/authntest"
	"github.com/pms-dapr/pms/platform/fhir"
)

const mrnSystem = "http://hospital.example.org/mrn"

type billing struct{}

func (billing) CreateAccount(context.Context, patient.Patient) (string, error) { return "acct", nil }

func (billing) CreateAccounts(_ context.Context, ids []string) ([]string, error) {
	out := make([]string, len(ids))
	for i := range ids {
		out[i] = "acct"
	}
	return out, nil
}

// server serves the FHIR API over the real patient.Service and the fake
// store, for a caller with role (token "admin" or "clinician").
func server(t *testing.T) *httptest.Server {
	log := slog.New(slog.DiscardHandler)
	svc := patient.NewService(patienttest.NewFakeStore(), billing{}, log)
	r := chi.NewRouter()
	tokens := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			role := authn.BearerToken(r)
			if role == "" {
				role = "no token"
			}
			authntest.Tokens{Token: role, Identity: authn.Identity{Subject: "u-" + role, Role: role}}.Middleware(next).ServeHTTP(w, r)
		})
	}
	fhirapi.Mount(r, svc, nil, fhirapi.Config{BaseURL: "https://pms.example.org/fhir/R4", MRNSystem: mrnSystem}, tokens, log)
	s := httptest.NewServer(r)
	t.Cleanup(s.Close)
	return s
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
}

func call(t *testing.T, s *httptest.Server, role, method, path, body string, headers ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	if role != "" {
		req.Header.Set("Authorization", "Bearer "+role)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	a := answer{status: resp.StatusCode, header: resp.Header}
	if len(raw) > 0 {
		require.Equal(t, fhir.ContentType, resp.Header.Get("Content-Type"), "%s", raw)
		require.NoError(t, json.Unmarshal(raw, &a.body), "%s", raw)
	}
	return a
}

const ada = `{"resourceType":"Patient","name":[{"family":"Lovelace","given":["Ada"]}],
	"telecom":[{"system":"email","value":"ada@example.org"}],"birthDate":"1915-12-10","address":[{"text":"London"}]}`

func issueExpression(a answer) string {
	issues, _ := a.body["issue"].([]any)
	if len(issues) == 0 {
		return ""
	}
	expr, _ := issues[0].(map[string]any)["expression"].([]any)
	if len(expr) == 0 {
		return ""
	}
	return expr[0].(string)
}

func TestTheInteractionsOverTheDomain(t *testing.T) {
	s := server(t)
	created := call(t, s, "clinician", http.MethodPost, "/fhir/R4/Patient", ada)
	require.Equal(t, http.StatusCreated, created.status, "%v", created.body)
	id := created.body["id"].(string)
	assert.Equal(t, "https://pms.example.org/fhir/R4/Patient/"+id+"/_history/1", created.header.Get("Location"))
	assert.Equal(t, `W/"1"`, created.header.Get("ETag"))

	update := strings.Replace(ada, `"resourceType":"Patient",`, `"resourceType":"Patient","id":"`+id+`","gender":"female",`, 1)
	assert.Equal(t, http.StatusPreconditionRequired, call(t, s, "clinician", http.MethodPut, "/fhir/R4/Patient/"+id, update).status)
	assert.Equal(t, http.StatusPreconditionFailed, call(t, s, "clinician", http.MethodPut, "/fhir/R4/Patient/"+id, update, "If-Match", "nonsense").status)
	assert.Equal(t, http.StatusBadRequest, call(t, s, "clinician", http.MethodPut, "/fhir/R4/Patient/"+id, ada, "If-Match", `W/"1"`).status, "no id in the body")
	updated := call(t, s, "clinician", http.MethodPut, "/fhir/R4/Patient/"+id, update, "If-Match", `W/"1"`)
	require.Equal(t, http.StatusOK, updated.status, "%v", updated.body)
	assert.Equal(t, "female", updated.body["gender"])
	stale := call(t, s, "clinician", http.MethodPut, "/fhir/R4/Patient/"+id, update, "If-Match", `W/"1"`)
	assert.Equal(t, http.StatusPreconditionFailed, stale.status)

	assert.Equal(t, http.StatusForbidden, call(t, s, "clinician", http.MethodDelete, "/fhir/R4/Patient/"+id, "").status, "the domain's rule too")
	assert.Equal(t, http.StatusNoContent, call(t, s, "admin", http.MethodDelete, "/fhir/R4/Patient/"+id, "").status)
	assert.Equal(t, http.StatusNoContent, call(t, s, "admin", http.MethodDelete, "/fhir/R4/Patient/"+id, "").status, "again: nothing to do")
	assert.Equal(t, http.StatusGone, call(t, s, "admin", http.MethodGet, "/fhir/R4/Patient/"+id, "").status)
	assert.Equal(t, http.StatusGone, call(t, s, "admin", http.MethodGet, "/fhir/R4/Patient/"+id+"/_history/3", "").status)
	assert.Equal(t, http.StatusGone, call(t, s, "clinician", http.MethodGet, "/fhir/R4/Patient/"+id+"/_history", "").status,
		"a deleted record's past is for admins")
	v1 := call(t, s, "admin", http.MethodGet, "/fhir/R4/Patient/"+id+"/_history/1", "")
	require.Equal(t, http.StatusOK, v1.status)
	assert.Equal(t, "unknown", v1.body["gender"], "version 1, before the gender was set")

	// History, a page of two at a time: DELETE, PUT, then POST.
	page := call(t, s, "admin", http.MethodGet, "/fhir/R4/Patient/"+id+"/_history?_count=2", "")
	require.Equal(t, http.StatusOK, page.status)
	methods := func(a answer) (out []string) {
		for _, e := range a.body["entry"].([]any) {
			out = append(out, e.(map[string]any)["request"].(map[string]any)["method"].(string))
		}
		return out
	}
	assert.Equal(t, []string{"DELETE", "PUT"}, methods(page))
	var next string
	for _, l := range page.body["link"].([]any) {
		if l.(map[string]any)["relation"] == "next" {
			next = l.(map[string]any)["url"].(string)
		}
	}
	require.NotEmpty(t, next)
	u, err := url.Parse(next)
	require.NoError(t, err)
	last := call(t, s, "admin", http.MethodGet, u.Path+"?"+u.RawQuery, "")
	assert.Equal(t, []string{"POST"}, methods(last))
	assert.Len(t, last.body["link"], 1, "no next link on the last page")
}

// pagedSearch answers searches with two pages of made-up patients (the
// fake store finds nothing): the links are the handler's.
type pagedSearch struct{ fhirapi.Registry }

func (pagedSearch) Search(_ context.Context, _ patient.Actor, q patient.Query) (patient.Page, error) {
	p := func(id string) patient.Patient {
		return patient.Patient{ID: id, Name: "Ada Lovelace", Email: "ada@example.org", Version: 1}
	}
	if q.After == nil {
		return patient.Page{Items: []patient.Patient{p("6f1c4a50-0000-4000-8000-000000000001"), p("6f1c4a50-0000-4000-8000-000000000002")},
			Next: &patient.Cursor{ID: "6f1c4a50-0000-4000-8000-000000000002"}}, nil
	}
	return patient.Page{Items: []patient.Patient{p("6f1c4a50-0000-4000-8000-000000000003")}}, nil
}

// A search page's self link names what it used, the cursor of a later page
// included; next carries the parameters on.
func TestSearchLinks(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	r := chi.NewRouter()
	reg := pagedSearch{patient.NewService(patienttest.NewFakeStore(), billing{}, log)}
	tokens := authntest.Tokens{Token: "clinician", Identity: authn.Identity{Subject: "u", Role: "clinician"}}
	fhirapi.Mount(r, reg, nil, fhirapi.Config{BaseURL: "https://pms.example.org/fhir/R4", MRNSystem: mrnSystem}, tokens.Middleware, log)
	s := httptest.NewServer(r)
	defer s.Close()
	links := func(a answer) map[string]*url.URL {
		out := map[string]*url.URL{}
		for _, l := range a.body["link"].([]any) {
			u, err := url.Parse(l.(map[string]any)["url"].(string))
			require.NoError(t, err)
			out[l.(map[string]any)["relation"].(string)] = u
		}
		return out
	}
	first := call(t, s, "clinician", http.MethodGet, "/fhir/R4/Patient?_count=2&family=lov&ignored=1", "")
	require.Equal(t, http.StatusOK, first.status)
	l := links(first)
	assert.Equal(t, "https://pms.example.org/fhir/R4/Patient?_count=2&family=lov", l["self"].String())
	require.Contains(t, l, "next")
	assert.Equal(t, "lov", l["next"].Query().Get("family"), "next keeps the parameters")
	assert.NotEmpty(t, l["next"].Query().Get("_cursor"))
	second := call(t, s, "clinician", http.MethodGet, "/fhir/R4/Patient?"+l["next"].RawQuery, "")
	require.Equal(t, http.StatusOK, second.status)
	l2 := links(second)
	assert.Equal(t, l["next"].String(), l2["self"].String(), "the second page's self is the next link that led to it")
	assert.NotContains(t, l2, "next")
	assert.Len(t, second.body["entry"], 1)
}

func TestConditionalCreate(t *testing.T) {
	s := server(t)
	withMRN := strings.Replace(ada, `"resourceType":"Patient",`, `"resourceType":"Patient","identifier":[{"system":"`+mrnSystem+`","value":"MRN-9"}],`, 1)
	cond := "identifier=" + url.QueryEscape(mrnSystem+"|MRN-9")
	first := call(t, s, "clinician", http.MethodPost, "/fhir/R4/Patient", withMRN, "If-None-Exist", cond)
	require.Equal(t, http.StatusCreated, first.status, "%v", first.body)
	again := call(t, s, "clinician", http.MethodPost, "/fhir/R4/Patient", withMRN, "If-None-Exist", cond)
	assert.Equal(t, http.StatusOK, again.status)
	assert.Equal(t, first.body["id"], again.body["id"])
	bad := call(t, s, "clinician", http.MethodPost, "/fhir/R4/Patient", withMRN, "If-None-Exist", "shoe-size=44")
	assert.Equal(t, http.StatusBadRequest, bad.status)
	assert.Equal(t, "shoe-size", issueExpression(bad))
}

func TestRefusals(t *testing.T) {
	s := server(t)
	for _, c := range []struct {
		name, role, method, path, body string
		headers                        []string
		want                           int
		expression                     string
	}{
		{"no token", "", http.MethodGet, "/fhir/R4/Patient/6f1c4a50-0000-4000-8000-0000000000aa", "", nil, http.StatusUnauthorized, ""},
		{"XML", "admin", http.MethodGet, "/fhir/R4/metadata", "", []string{"Accept", "application/fhir+xml"}, http.StatusNotAcceptable, ""},
		{"_format=xml", "admin", http.MethodGet, "/fhir/R4/metadata?_format=xml", "", nil, http.StatusNotAcceptable, "_format"},
		{"an XML body", "admin", http.MethodPost, "/fhir/R4/Patient", ada, []string{"Content-Type", "application/fhir+xml"}, http.StatusUnsupportedMediaType, ""},
		{"a JSON _search body", "admin", http.MethodPost, "/fhir/R4/Patient/_search", "{}", []string{"Content-Type", "application/json"}, http.StatusUnsupportedMediaType, ""},
		{"an invalid birth date", "admin", http.MethodPost, "/fhir/R4/Patient", strings.Replace(ada, "1915-12-10", "1915-13-10", 1), nil, http.StatusBadRequest, "Patient.birthDate"},
		{"invalid UTF-8 in a name", "admin", http.MethodPost, "/fhir/R4/Patient", strings.Replace(ada, "Lovelace", "Love\xfflace", 1), nil, http.StatusBadRequest, "Patient.name"},
		{"a NUL in an address", "admin", http.MethodPost, "/fhir/R4/Patient", strings.Replace(ada, "London", "Lon\\u0000don", 1), nil, http.StatusBadRequest, "Patient.address"},
		{"a bad Idempotency-Key", "admin", http.MethodPost, "/fhir/R4/Patient", ada, []string{"Idempotency-Key", "a b"}, http.StatusBadRequest, ""},
		{"no such endpoint", "admin", http.MethodGet, "/fhir/R4/Observation", "", nil, http.StatusNotFound, ""},
		{"no such method", "admin", http.MethodPatch, "/fhir/R4/Patient/6f1c4a50-0000-4000-8000-0000000000aa", "", nil, http.StatusMethodNotAllowed, ""},
		{"a version that is no number", "admin", http.MethodGet, "/fhir/R4/Patient/6f1c4a50-0000-4000-8000-0000000000aa/_history/x", "", nil, http.StatusNotFound, ""},
		{"strict, unknown parameter", "admin", http.MethodGet, "/fhir/R4/Patient?shoe-size=44", "", []string{"Prefer", "handling=strict"}, http.StatusBadRequest, "shoe-size"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := call(t, s, c.role, c.method, c.path, c.body, c.headers...)
			require.Equal(t, c.want, a.status, "%v", a.body)
			assert.Equal(t, "OperationOutcome", a.body["resourceType"])
			if c.expression != "" {
				assert.Equal(t, c.expression, issueExpression(a))
			}
		})
	}
	meta := call(t, s, "", http.MethodGet, "/fhir/R4/metadata", "")
	assert.Equal(t, http.StatusOK, meta.status, "the CapabilityStatement is public")
	assert.Equal(t, "https://pms.example.org/fhir/R4", meta.body["implementation"].(map[string]any)["url"])
}
