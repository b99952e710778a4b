package patientapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/apps/patient-service/internal/patient"
	"github.com/pms-dapr/pms/apps/patient-service/internal/patientapi"
	"github.com/pms-dapr/pms/platform/authn"
	"github.com/pms-dapr/pms/platform/authn/authntest"
	"github.com/pms-dapr/pms/platform/httpserver"
	"github.com/pms-dapr/pms/platform/validation"
)

// fakeRegistry runs the real validation rules over one stored patient and
// records what it was asked.
type fakeRegistry struct {
	p       patient.Patient
	err     error
	created patient.Draft
	key     string
	query   patient.Query
	audit   patient.AuditQuery
	actor   patient.Actor
	ifMatch int64
}

func (f *fakeRegistry) Create(_ context.Context, a patient.Actor, d patient.Draft, key string) (patient.Patient, bool, error) {
	f.created, f.key, f.actor = d, key, a
	if f.err != nil {
		return patient.Patient{}, false, f.err
	}
	if err := refusedByPostgres(key, d.Name, d.Email, d.Address, d.Phone, d.Gender, d.MRN); err != nil {
		return patient.Patient{}, false, err
	}
	if _, err := d.Validate(time.Now().UTC().Truncate(24 * time.Hour)); err != nil {
		return patient.Patient{}, false, err
	}
	return f.p, key == "seen-before", nil
}

// errRefusedByPostgres stands for the error PostgreSQL gives text it
// cannot store (NUL, invalid UTF-8): the fake refuses the same, so a
// handler that lets such text through fails its tests, not production.
var errRefusedByPostgres = errors.New("fake: PostgreSQL refuses this text")

func refusedByPostgres(texts ...string) error {
	for _, s := range texts {
		if validation.Unstorable(s) {
			return errRefusedByPostgres
		}
	}
	return nil
}

func (f *fakeRegistry) Get(_ context.Context, a patient.Actor, id string) (patient.Patient, error) {
	f.actor = a
	if f.err != nil {
		return patient.Patient{}, f.err
	}
	if err := refusedByPostgres(id); err != nil {
		return patient.Patient{}, err
	}
	if id != f.p.ID {
		return patient.Patient{}, patient.ErrNotFound
	}
	return f.p, nil
}

func (f *fakeRegistry) Search(_ context.Context, a patient.Actor, q patient.Query) (patient.Page, error) {
	f.query, f.actor = q, a
	if err := refusedByPostgres(q.Name, q.Email, q.MRN, q.Q); err != nil {
		return patient.Page{}, err
	}
	return patient.Page{Items: []patient.Patient{f.p}, Next: &patient.Cursor{CreatedAt: f.p.CreatedAt, ID: f.p.ID}}, f.err
}

func (f *fakeRegistry) Replace(_ context.Context, _ patient.Actor, _ string, v int64, d patient.Draft) (patient.Patient, error) {
	f.ifMatch = v
	return f.change(func(patient.Draft) (patient.Draft, error) { return d, nil })
}

func (f *fakeRegistry) Patch(_ context.Context, _ patient.Actor, _ string, v int64, edit func(patient.Draft) (patient.Draft, error)) (patient.Patient, error) {
	f.ifMatch = v
	return f.change(edit)
}

func (f *fakeRegistry) change(edit func(patient.Draft) (patient.Draft, error)) (patient.Patient, error) {
	if f.err != nil {
		return patient.Patient{}, f.err
	}
	d, err := edit(patient.DraftOf(f.p))
	if err != nil {
		return patient.Patient{}, err
	}
	next, err := d.Validate(time.Now().UTC().Truncate(24 * time.Hour))
	if err != nil {
		return patient.Patient{}, err
	}
	next.ID, next.Version = f.p.ID, f.p.Version+1
	return next, nil
}

func (f *fakeRegistry) Delete(_ context.Context, _ patient.Actor, _ string, v int64) error {
	f.ifMatch = v
	return f.err
}

func (f *fakeRegistry) AuditTrail(_ context.Context, _ patient.Actor, _ string, q patient.AuditQuery) (patient.AuditPage, error) {
	f.audit = q
	return patient.AuditPage{Items: []patient.AuditEntry{{At: time.Unix(0, 0).UTC(), UserID: "u1", Role: "admin", Action: "read",
		PatientIDs: []string{f.p.ID}, RequestID: "r", Outcome: "success"}}, Next: 42}, f.err
}

var sample = patient.Patient{
	ID: "3d993b7f-67e8-4f2f-9429-e766ce3a9de7", Name: "Ada", Email: "ada@example.com", Address: "x", MRN: "MRN-1",
	DateOfBirth:    time.Date(1985, 12, 10, 0, 0, 0, 0, time.UTC),
	RegisteredDate: time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC), BillingAccountID: "acct-1", Version: 3,
	CreatedAt: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC), UpdatedAt: time.Date(2026, 11, 24, 11, 0, 0, 0, time.UTC),
}

const appToken = "app-token-for-tests"

func routes(reg *fakeRegistry) http.Handler {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	return patientapi.Routes(reg, patientapi.Security{AppAPIToken: appToken, Tokens: authntest.Tokens{Token: "good", Identity: authn.Identity{Subject: "u1", Role: authn.RoleClinician}}}, httpserver.Health{Log: log}, log)
}

func serve(reg *fakeRegistry, method, path, contentType, body string, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("dapr-api-token", appToken)
	req.Header.Set("Authorization", "Bearer good")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	routes(reg).ServeHTTP(rec, req)
	return rec
}

type problemBody struct {
	Status int `json:"status"`
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

func TestCreateAnswers201WithLocationAndETag(t *testing.T) {
	reg := &fakeRegistry{p: sample}
	rec := serve(reg, http.MethodPost, "/patients", "application/json",
		`{"name":"Ada","email":"ada@example.com","address":"x","dateOfBirth":"1985-12-10","gender":"female"}`, "Idempotency-Key", "k-1")
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	assert.Equal(t, "/patients/"+sample.ID, rec.Header().Get("Location"))
	assert.Equal(t, `"3"`, rec.Header().Get("ETag"))
	assert.Equal(t, "k-1", reg.key)
	assert.Equal(t, patient.Actor{UserID: "u1", Role: "clinician", RequestID: rec.Header().Get("X-Request-Id")}, reg.actor)
	assert.JSONEq(t, `{"id":"3d993b7f-67e8-4f2f-9429-e766ce3a9de7","mrn":"MRN-1","name":"Ada","email":"ada@example.com",
		"address":"x","dateOfBirth":"1985-12-10","registeredDate":"2026-11-24","billingAccountId":"acct-1","version":3,
		"createdAt":"2026-11-24T10:00:00Z","updatedAt":"2026-11-24T11:00:00Z"}`, rec.Body.String())

	rec = serve(reg, http.MethodPost, "/patients", "application/json",
		`{"name":"Ada","email":"ada@example.com","address":"x","dateOfBirth":"1985-12-10"}`, "Idempotency-Key", "seen-before")
	assert.Equal(t, "true", rec.Header().Get("Idempotent-Replayed"))
}

func TestCreateRejectsBadRequests(t *testing.T) {
	cases := map[string]struct {
		contentType, body string
		status            int
		field             string
	}{
		"server-owned id":  {"application/json", `{"name":"a","id":"x"}`, 400, "id"},
		"server version":   {"application/json", `{"version":9}`, 400, "version"},
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
	rec := serve(&fakeRegistry{p: sample}, http.MethodPost, "/patients", "application/json", `{}`, "Idempotency-Key", "bad key")
	assert.Equal(t, http.StatusBadRequest, rec.Code)
}

func TestDomainErrorsMapToProblems(t *testing.T) {
	cases := map[string]struct {
		err    error
		status int
		field  string
	}{
		"validation":  {&validation.Error{Fields: []validation.FieldError{{Field: "email", Message: "bad"}, {Field: "name", Message: "bad"}}}, 400, "email"},
		"email taken": {patient.ErrEmailTaken, 409, "email"},
		"mrn taken":   {patient.ErrMRNTaken, 409, "mrn"},
		"stale":       {patient.ErrVersionMismatch, 412, ""},
		"gone":        {patient.ErrGone, 410, ""},
		"forbidden":   {patient.ErrForbidden, 403, ""},
		"idem misuse": {patient.ErrIdempotencyMismatch, 422, ""},
		"internal":    {errors.New("connection reset by peer at 10.0.0.5"), 500, ""},
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

func TestConditionalWrites(t *testing.T) {
	body := `{"name":"Ada King","email":"ada@example.com","address":"x","dateOfBirth":"1985-12-10"}`
	reg := &fakeRegistry{p: sample}
	assert.Equal(t, http.StatusPreconditionRequired, serve(reg, http.MethodPut, "/patients/"+sample.ID, "application/json", body).Code)
	assert.Equal(t, http.StatusPreconditionFailed, serve(reg, http.MethodPut, "/patients/"+sample.ID, "application/json", body, "If-Match", "*").Code)
	rec := serve(reg, http.MethodPut, "/patients/"+sample.ID, "application/json", body, "If-Match", `W/"3"`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.EqualValues(t, 3, reg.ifMatch)
	assert.Equal(t, `"4"`, rec.Header().Get("ETag"))

	rec = serve(reg, http.MethodPatch, "/patients/"+sample.ID, "application/merge-patch+json", `{"phone":"+1 555 0100","gender":null}`, "If-Match", `"3"`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Contains(t, rec.Body.String(), `"phone":"+1 555 0100"`)
	assert.Contains(t, rec.Body.String(), `"name":"Ada"`, "fields the patch leaves out keep their values")

	rec = serve(reg, http.MethodPatch, "/patients/"+sample.ID, "application/merge-patch+json", `{"billingAccountId":"x"}`, "If-Match", `"3"`)
	require.Equal(t, http.StatusBadRequest, rec.Code, "server-owned fields cannot be patched")
	assert.Contains(t, rec.Body.String(), `"field":"billingAccountId"`)
	rec = serve(reg, http.MethodPatch, "/patients/"+sample.ID, "application/merge-patch+json", `{"name":null}`, "If-Match", `"3"`)
	assert.Equal(t, http.StatusBadRequest, rec.Code, "a required field cannot be removed")
	assert.Equal(t, http.StatusBadRequest, serve(reg, http.MethodPatch, "/patients/"+sample.ID, "application/merge-patch+json", `[1]`, "If-Match", `"3"`).Code)
	assert.Equal(t, http.StatusUnsupportedMediaType, serve(reg, http.MethodPatch, "/patients/"+sample.ID, "text/plain", `{}`, "If-Match", `"3"`).Code)

	assert.Equal(t, http.StatusPreconditionRequired, serve(reg, http.MethodDelete, "/patients/"+sample.ID, "", "").Code)
	assert.Equal(t, http.StatusNoContent, serve(reg, http.MethodDelete, "/patients/"+sample.ID, "", "", "If-Match", `"3"`).Code)
}

func TestGetSearchAndAudit(t *testing.T) {
	reg := &fakeRegistry{p: sample}
	rec := serve(reg, http.MethodGet, "/patients/"+sample.ID, "", "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, `"3"`, rec.Header().Get("ETag"))
	assert.Equal(t, http.StatusNotFound, serve(reg, http.MethodGet, "/patients/00000000-0000-4000-8000-000000000000", "", "").Code)

	rec = serve(reg, http.MethodGet, "/patients?name=Ad&limit=5&birthDate=1985-12-10", "", "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, 5, reg.query.Limit)
	assert.Equal(t, "Ad", reg.query.Name)
	var list struct {
		Items []map[string]any
		Next  string
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &list))
	assert.Len(t, list.Items, 1)
	assert.Contains(t, list.Next, "/patients?")
	assert.Contains(t, list.Next, "name=Ad")
	assert.Contains(t, list.Next, "cursor=")

	assert.Equal(t, http.StatusBadRequest, serve(reg, http.MethodGet, "/patients?limit=ten", "", "").Code)
	assert.Equal(t, http.StatusBadRequest, serve(reg, http.MethodGet, "/patients?deleted=maybe", "", "").Code)

	rec = serve(reg, http.MethodGet, "/patients/"+sample.ID+"/audit?action=read&limit=5", "", "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), `"action":"read"`)
	assert.Equal(t, patient.AuditQuery{Action: "read", Limit: 5}, reg.audit)
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &list))
	next, err := url.Parse(list.Next)
	require.NoError(t, err)
	assert.Equal(t, "/patients/"+sample.ID+"/audit", next.Path)
	assert.Equal(t, "read", next.Query().Get("action"), "the next page keeps the filter")
	rec = serve(reg, http.MethodGet, next.String(), "", "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, patient.AuditQuery{Action: "read", Before: 42, Limit: 5}, reg.audit, "the cursor is the page's position")
	for _, bad := range []string{"action=rename", "limit=0", "limit=101", "cursor=nope"} {
		assert.Equal(t, http.StatusBadRequest, serve(reg, http.MethodGet, "/patients/"+sample.ID+"/audit?"+bad, "", "").Code, bad)
	}
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
			req := httptest.NewRequest(http.MethodGet, "/patients/"+sample.ID, nil)
			if tc.appToken != "" {
				req.Header.Set("dapr-api-token", tc.appToken)
			}
			if tc.bearer != "" {
				req.Header.Set("Authorization", "Bearer "+tc.bearer)
			}
			rec := httptest.NewRecorder()
			routes(&fakeRegistry{p: sample}).ServeHTTP(rec, req)
			assert.Equal(t, tc.status, rec.Code, rec.Body.String())
		})
	}
	rec := httptest.NewRecorder()
	routes(&fakeRegistry{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	assert.Equal(t, http.StatusOK, rec.Code, "probes need no token")
}
