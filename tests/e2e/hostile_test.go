package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hostile is a value a client might send; invalid ones can never be
// stored and must be refused (4xx), the others are legitimate if unusual
// text and must at least never cause a 5xx.
type hostile struct {
	name    string
	raw     string // the value's bytes
	invalid bool
}

var hostileValues = []hostile{
	{"NUL", "a\x00b", true},
	{"invalid UTF-8", "a\xff\xfeb", true},
	{"overlong encoding", "a\xc0\xafb", true},
	{"lone surrogate", "\xed\xa0\x80", true},
	{"10 kB", strings.Repeat("a", 10<<10), true},
	{"RTL and zero-width", "\u202eevil\u200b", false},
	{"SQL metacharacters", "' OR '1'='1'; DROP TABLE patients; --", false},
	{"JSON metacharacters", `"},{"role":"admin","x":"`, false},
}

// jsonString renders v as a JSON string literal, keeping invalid bytes
// as they are (json.Marshal would replace them).
func jsonString(v string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20:
			fmt.Fprintf(&b, `\u%04x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// body renders fields as a JSON object with field set to v.
func hostileBody(fields map[string]string, field, v string) string {
	var parts []string
	for k, val := range fields {
		lit := jsonString(val)
		if k == field {
			lit = jsonString(v)
		}
		parts = append(parts, jsonString(k)+":"+lit)
	}
	if _, ok := fields[field]; !ok {
		parts = append(parts, jsonString(field)+":"+jsonString(v))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// stranger sends the failed logins of the hostile-input test from an
// address of its own, so the throttle they trip affects no other test.
var stranger = clientFrom("127.0.0.3")

// Hostile values in every query parameter and every string field of every
// request body through the gateway: invalid text gets a 4xx naming the
// field where it can, and nothing gets a 5xx.
func TestHostileInputNeverCausesA5xx(t *testing.T) {
	p, _ := createPatient(t, newPatient("Hostile Target"))
	etag := fmt.Sprintf(`"%d"`, p.Version)
	userEmail := createUser(t, "billing")
	r := do(t, http.MethodGet, gateway+"/auth/users", nil)
	require.Equal(t, http.StatusOK, r.status)
	list := decodeAs[struct {
		Items []struct{ ID, Email string }
	}](t, r)
	var userID string
	for _, u := range list.Items {
		if u.Email == userEmail {
			userID = u.ID
		}
	}
	require.NotEmpty(t, userID)

	type target struct {
		method, path, ctype string
		fields              map[string]string // a valid body, before one field is made hostile
		headers             []string
	}
	valid := newPatient("Hostile Body")
	targets := []target{
		{"POST", "/patients", "application/json", valid, nil},
		{"PUT", "/patients/" + p.ID, "application/json", valid, []string{"If-Match", etag}},
		{"PATCH", "/patients/" + p.ID, "application/merge-patch+json", map[string]string{}, []string{"If-Match", etag}},
		{"POST", "/auth/login", "application/json", map[string]string{"email": "nobody@example.com", "password": "a wrong password"}, nil},
		{"POST", "/auth/refresh", "application/json", map[string]string{"refreshToken": "x"}, nil},
		{"POST", "/auth/users", "application/json", map[string]string{"email": "hostile@example.com", "password": "a long enough password", "role": "clinician"}, nil},
		{"PATCH", "/auth/users/" + userID, "application/json", map[string]string{"role": "billing"}, nil},
		{"POST", "/billing/accounts/" + p.BillingAccountID + "/charges", "application/json",
			map[string]string{"serviceDate": "2026-12-01", "code": "99213", "description": "Visit"}, []string{"Idempotency-Key", "hostile"}},
		{"POST", "/billing/accounts/" + p.BillingAccountID + "/payments", "application/json",
			map[string]string{"method": "CASH", "reference": "R-1"}, []string{"Idempotency-Key", "hostile"}},
		{"POST", "/billing/accounts/" + p.BillingAccountID + "/adjustments", "application/json",
			map[string]string{"type": "WRITE_OFF", "reason": "goodwill"}, []string{"Idempotency-Key", "hostile"}},
		{"POST", "/billing/accounts/" + p.BillingAccountID + "/reversals", "application/json",
			map[string]string{"entryId": p.ID, "reason": "mistake"}, []string{"Idempotency-Key", "hostile"}},
	}
	bodyFields := map[string][]string{
		"/patients":     {"name", "email", "address", "dateOfBirth", "registeredDate", "phone", "gender", "mrn"},
		"/auth/login":   {"email", "password"},
		"/auth/refresh": {"refreshToken"},
		"/auth/users":   {"email", "password", "role"},
		"/charges":      {"serviceDate", "code", "description"},
		"/payments":     {"method", "reference"},
		"/adjustments":  {"type", "reason"},
		"/reversals":    {"entryId", "reason"},
	}
	for _, tg := range targets {
		key := tg.path
		switch {
		case strings.HasPrefix(key, "/patients"):
			key = "/patients"
		case strings.HasPrefix(key, "/auth/users/"):
			key = "/auth/users"
		case strings.HasPrefix(key, "/billing/"):
			key = key[strings.LastIndex(key, "/"):]
		}
		fields := bodyFields[key]
		if strings.HasPrefix(tg.path, "/auth/users/") {
			fields = []string{"role"}
		}
		for _, field := range fields {
			for _, h := range hostileValues {
				body := hostileBody(tg.fields, field, h.raw)
				headers := append([]string{"Content-Type", tg.ctype}, tg.headers...)
				client := httpClient
				if tg.path == "/auth/login" {
					client = stranger // failed logins throttle their client address
				}
				r := doFrom(t, client, adminToken, tg.method, gateway+tg.path, body, headers...)
				what := fmt.Sprintf("%s %s %s=%s", tg.method, tg.path, field, h.name)
				assert.Less(t, r.status, 500, "%s: %s", what, r.body)
				if h.invalid {
					assert.GreaterOrEqual(t, r.status, 400, "%s: %s", what, r.body)
				}
			}
		}
	}

	queries := map[string][]string{
		"/patients":         {"name", "email", "mrn", "q", "birthDate", "cursor", "limit", "deleted"},
		"/billing/accounts": {"patientId", "status", "cursor", "limit"},
	}
	for path, params := range queries {
		for _, param := range params {
			hostileQuery(t, path, param)
		}
	}
}

// hostileQuery sends every hostile value as param of a GET of path.
func hostileQuery(t *testing.T, path, param string) {
	t.Helper()
	for _, h := range hostileValues {
		r := do(t, http.MethodGet, gateway+path+"?"+url.Values{param: {h.raw}}.Encode(), nil)
		what := "GET " + path + "?" + param + "=" + h.name
		assert.Less(t, r.status, 500, "%s: %s", what, r.body)
		if h.invalid {
			require.Equal(t, http.StatusBadRequest, r.status, "%s: %s", what, r.body)
			assert.Contains(t, string(r.body), `"field":`+strconv.Quote(param), what)
		}
	}
}
