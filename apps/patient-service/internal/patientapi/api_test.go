package patientapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/apps/patient-service/internal/patient"
	"github.com/pms-dapr/pms/apps/patient-service/internal/patientapi"
	"github.com/pms-dapr/pms/platform/authn"
	"github.com/pms-dapr/pms/platform/service"
)

// fakeRegistry answers from fixed values and records what it was given.
type fakeRegistry struct {
	created patient.Draft
	err     error
	p       patient.Patient
	limit   int
}

func (f *fakeRegistry) Create(_ context.Context, d patient.Draft) (patient.Patient, error) {
	f.created = d
	return f.p, f.err
}

func (f *fakeRegistry) Get(_ context.Context, id string) (patient.Patient, error) {
	if f.err != nil {
		return patient.Patient{}, f.err
	}
	if id != f.p.ID {
		return patient.Patient{}, patient.ErrNotFound
	}
	return f.p, nil
}

func (f *fakeRegistry) List(_ context.Context, limit int) ([]patient.Patient, error) {
	f.limit = limit
	return []patient.Patient{f.p}, f.err
}

var sample = patient.Patient{
	ID: "3d993b7f-67e8-4f2f-9429-e766ce3a9de7", Name: "Ada", Email: "ada@example.com", Address: "x",
	DateOfBirth:    time.Date(1985, 12, 10, 0, 0, 0, 0, time.UTC),
	RegisteredDate: time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC), BillingAccountID: "acct-1",
}

// fakeTokens accepts the token "good" as a clinician and nothing else.
type fakeTokens struct{}

func (fakeTokens) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if authn.BearerToken(r) != "good" {
			authn.Unauthorized(w, r)
			return
		}
		next.ServeHTTP(w, r.WithContext(authn.WithIdentity(r.Context(), authn.Identity{Subject: "u1", Role: authn.RoleClinician})))
	})
}

const appToken = "app-token-for-tests"

func routes(reg *fakeRegistry) http.Handler {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	return patientapi.Routes(reg, patientapi.Security{AppAPIToken: appToken, Tokens: fakeTokens{}}, service.Health{Log: log}, log)
}

func serve(reg *fakeRegistry, method, path, contentType, body string) *httptest.ResponseRecorder {
	h := routes(reg)
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("dapr-api-token", appToken)
	req.Header.Set("Authorization", "Bearer good")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

type problemBody struct {
	Status int `json:"status"`
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

func TestCreateAnswers201WithLocation(t *testing.T) {
	reg := &fakeRegistry{p: sample}
	rec := serve(reg, http.MethodPost, "/patients", "application/json",
		`{"name":"Ada","email":"ada@example.com","address":"x","dateOfBirth":"1985-12-10"}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	assert.Equal(t, "/patients/"+sample.ID, rec.Header().Get("Location"))
	assert.Equal(t, patient.Draft{Name: "Ada", Email: "ada@example.com", Address: "x", DateOfBirth: "1985-12-10"}, reg.created)
	assert.JSONEq(t, `{"id":"3d993b7f-67e8-4f2f-9429-e766ce3a9de7","name":"Ada","email":"ada@example.com",
		"address":"x","dateOfBirth":"1985-12-10","registeredDate":"2026-11-24","billingAccountId":"acct-1"}`, rec.Body.String())
}

func TestCreateRejectsBadRequests(t *testing.T) {
	cases := map[string]struct {
		contentType, body string
		status            int
		field             string
	}{
		"unknown field":    {"application/json", `{"name":"a","id":"x"}`, 400, "id"},
		"wrong type":       {"application/json", `{"dateOfBirth":19851210}`, 400, "dateOfBirth"},
		"syntax":           {"application/json", `{"name":`, 400, ""},
		"empty":            {"application/json", ``, 400, ""},
		"trailing data":    {"application/json", `{} {}`, 400, ""},
		"not an object":    {"application/json", `"hello"`, 400, ""},
		"not json at all":  {"text/plain", `name=a`, 415, ""},
		"missing type":     {"", `{}`, 415, ""},
		"oversized":        {"application/json", `{"name":"` + strings.Repeat("a", patientapi.MaxBodyBytes) + `"}`, 413, ""},
		"charset accepted": {"application/json; charset=utf-8", `{"name":1}`, 400, "name"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			reg := &fakeRegistry{p: sample}
			rec := serve(reg, http.MethodPost, "/patients", tc.contentType, tc.body)
			require.Equal(t, tc.status, rec.Code, rec.Body.String())
			assert.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
			var p problemBody
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
			assert.Equal(t, tc.status, p.Status)
			if tc.field != "" {
				require.Len(t, p.Errors, 1)
				assert.Equal(t, tc.field, p.Errors[0].Field)
			}
			assert.Empty(t, reg.created.Name, "the domain is not called")
		})
	}
}

func TestDomainErrorsMapToProblems(t *testing.T) {
	cases := map[string]struct {
		err    error
		status int
		field  string
	}{
		"validation": {&patient.ValidationError{Fields: []patient.FieldError{{Field: "email", Message: "bad"}, {Field: "name", Message: "bad"}}}, 400, "email"},
		"conflict":   {patient.ErrEmailTaken, 409, "email"},
		"internal":   {errors.New("connection reset by peer at 10.0.0.5"), 500, ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rec := serve(&fakeRegistry{err: tc.err}, http.MethodPost, "/patients", "application/json", `{}`)
			require.Equal(t, tc.status, rec.Code)
			assert.NotContains(t, rec.Body.String(), "10.0.0.5", "internal detail never reaches the client")
			var p problemBody
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
			if tc.field != "" {
				assert.Equal(t, tc.field, p.Errors[0].Field)
			}
		})
	}
}

func TestGetAndList(t *testing.T) {
	reg := &fakeRegistry{p: sample}
	rec := serve(reg, http.MethodGet, "/patients/"+sample.ID, "", "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), `"billingAccountId":"acct-1"`)

	rec = serve(reg, http.MethodGet, "/patients/00000000-0000-4000-8000-000000000000", "", "")
	assert.Equal(t, http.StatusNotFound, rec.Code)

	rec = serve(reg, http.MethodGet, "/patients?limit=5", "", "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, 5, reg.limit)
	assert.Contains(t, rec.Body.String(), `"items":[{"id":"`+sample.ID)

	rec = serve(reg, http.MethodGet, "/patients?limit=ten", "", "")
	assert.Equal(t, http.StatusBadRequest, rec.Code)

	rec = serve(reg, http.MethodDelete, "/patients/"+sample.ID, "", "")
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
}

func TestOnlySidecarTrafficWithAValidTokenIsServed(t *testing.T) {
	cases := map[string]struct {
		appToken, bearer string
		status           int
	}{
		"no app token":        {"", "good", http.StatusUnauthorized},
		"wrong app token":     {"guess", "good", http.StatusUnauthorized},
		"no access token":     {appToken, "", http.StatusUnauthorized},
		"bad access token":    {appToken, "forged", http.StatusUnauthorized},
		"both tokens present": {appToken, "good", http.StatusOK},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			reg := &fakeRegistry{p: sample}
			req := httptest.NewRequest(http.MethodGet, "/patients/"+sample.ID, nil)
			if tc.appToken != "" {
				req.Header.Set("dapr-api-token", tc.appToken)
			}
			if tc.bearer != "" {
				req.Header.Set("Authorization", "Bearer "+tc.bearer)
			}
			rec := httptest.NewRecorder()
			routes(reg).ServeHTTP(rec, req)
			assert.Equal(t, tc.status, rec.Code, rec.Body.String())
		})
	}
	rec := httptest.NewRecorder()
	routes(&fakeRegistry{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	assert.Equal(t, http.StatusOK, rec.Code, "probes need no token")
}
