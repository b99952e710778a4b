package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/platform/authn/authntest"
)

// expectClient waits for the server's 100 Continue before it sends a body,
// as curl does for large uploads and many client libraries always do.
var expectClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{ExpectContinueTimeout: 5 * time.Second}}

// send makes one request with a body of the media type the route takes,
// with or without Expect: 100-continue, and returns the status and body.
func send(t *testing.T, method, url, body string, expect bool, headers ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	ctype := "application/json"
	switch {
	case strings.Contains(url, "/fhir/"):
		ctype = "application/fhir+json"
	case method == http.MethodPatch && strings.Contains(url, "/patients/"):
		ctype = "application/merge-patch+json"
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	client := httpClient
	if expect {
		req.Header.Set("Expect", "100-continue")
		client = expectClient
	}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

// For every operation of the OpenAPI document that takes a body, the
// status with Expect: 100-continue is the status without it (an error
// must never turn into a 200 because the interim 100 was taken for the
// answer). The bodies are refused ones ({}, or an invalid email for a
// merge patch), so nothing is changed, plus a FHIR update with a stale
// If-Match.
func TestExpect100ContinueNeverChangesTheStatus(t *testing.T) {
	root, err := repoRoot()
	require.NoError(t, err)
	doc, err := openapi3.NewLoader().LoadFromFile(filepath.Join(root, "apps", "api-gateway", "internal", "apidocs", "openapi.yaml"))
	require.NoError(t, err)
	p, _ := createPatient(t, newPatient("Expect Continue"))
	ids := map[string]string{"id": p.ID, "entryId": uuid.NewString(), "vid": "1"}
	checked := 0
	for _, path := range doc.Paths.InMatchingOrder() {
		for method, op := range doc.Paths.Value(path).Operations() {
			if op.RequestBody == nil || path == "/auth/login" || path == "/auth/refresh" || path == "/auth/logout" {
				continue // the sessions are checked below; a logout would end the admin's
			}
			body := `{}`
			if method == http.MethodPatch && path == "/patients/{id}" {
				body = `{"email":"not-an-email"}` // {} is a merge patch that changes nothing
			}
			url := gateway + path
			for name, v := range ids {
				id := v
				if name == "id" && strings.HasPrefix(path, "/billing/") {
					id = p.BillingAccountID
				}
				if name == "id" && strings.HasPrefix(path, "/auth/users/") {
					id = uuid.NewString()
				}
				url = strings.ReplaceAll(url, "{"+name+"}", id)
			}
			plain, plainBody := send(t, method, url, body, false, "If-Match", `"1"`)
			with, withBody := send(t, method, url, body, true, "If-Match", `"1"`)
			assert.Equal(t, plain, with, "%s %s: %d without Expect (%s), %d with it (%s)", method, path, plain, plainBody, with, withBody)
			assert.GreaterOrEqual(t, with, 400, "%s %s: %s is refused", method, path, body)
			checked++
		}
	}
	assert.GreaterOrEqual(t, checked, 12, "operations with a body")

	// A stale update of a FHIR Patient: 412 both ways.
	stale := fmt.Sprintf(`{"resourceType":"Patient","id":%q,"name":[{"text":"Expect Continue"}],"birthDate":"1980-02-29"}`, p.ID)
	plain, _ := send(t, http.MethodPut, gateway+"/fhir/R4/Patient/"+p.ID, stale, false, "If-Match", `W/"99"`)
	with, body := send(t, http.MethodPut, gateway+"/fhir/R4/Patient/"+p.ID, stale, true, "If-Match", `W/"99"`)
	assert.Equal(t, http.StatusPreconditionFailed, plain)
	assert.Equal(t, http.StatusPreconditionFailed, with, "a refused FHIR update never answers 200: %s", body)
	assert.Contains(t, body, "OperationOutcome")

	// The sessions: a body of the wrong shape is refused before any
	// account is looked at (no failed login is counted).
	for _, path := range []string{"/auth/login", "/auth/refresh"} {
		plain, _ := send(t, http.MethodPost, gateway+path, `{}`, false)
		with, _ := send(t, http.MethodPost, gateway+path, `{}`, true)
		assert.Equal(t, plain, with, path)
	}
}

// A header value that is not printable ASCII is refused with 400 naming
// the header on every kind of route, with or without a token, never a 5xx
// (it used to look like an outage); control bytes are refused by the
// server itself.
func TestMalformedHeadersAreRefusedNotOutages(t *testing.T) {
	for _, path := range []string{"/fhir/R4/metadata", "/patients", "/auth/.well-known/jwks.json", "/fhir/R4/Patient", "/billing/accounts"} {
		for _, value := range []string{"caf\xe9", "caf\xc3\xa9", "\xff\xfe"} {
			req, err := http.NewRequest(http.MethodGet, gateway+path, nil)
			require.NoError(t, err)
			req.Header.Set("X-Probe", value)
			req.Header.Set("Authorization", "Bearer "+adminToken)
			resp, err := httpClient.Do(req)
			require.NoError(t, err)
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s X-Probe=%q: %s", path, value, raw)
			assert.Contains(t, string(raw), "X-Probe", path)
		}
	}
	// A control byte in a value, and a name that is no token, sent raw.
	for _, header := range []string{"X-Probe: a\x01b", "X-Pro\xe9be: a", "X-Probe: a\x7fb"} {
		conn, err := net.Dial("tcp", "127.0.0.1:4004")
		require.NoError(t, err)
		_, err = fmt.Fprintf(conn, "GET /fhir/R4/metadata HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\nConnection: close\r\n\r\n", header)
		require.NoError(t, err)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		require.NoError(t, err)
		resp.Body.Close()
		conn.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "%q", header)
	}
}

// A chunked body over the limit is refused with 413 every time (it used
// to fail midway through the proxy, as a 502, most of the time).
func TestChunkedBodiesOverTheLimitAre413EveryTime(t *testing.T) {
	for i := range 50 {
		body := io.MultiReader(strings.NewReader(`{"name":"`), strings.NewReader(strings.Repeat("x", 1<<20)), strings.NewReader(`"}`))
		req, err := http.NewRequest(http.MethodPost, gateway+"/patients", body)
		require.NoError(t, err)
		req.ContentLength = -1 // chunked
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := httpClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode, "try %d", i)
	}
}

// A key given twice is a 400 naming it, in every API: the JSON API, a
// merge patch, FHIR, auth, billing and the operators' dead letters.
func TestDuplicateKeysAreRefusedInEveryAPI(t *testing.T) {
	p, _ := createPatient(t, newPatient("Duplicate Keys"))
	for _, tc := range []struct{ method, path, body, key string }{
		{"POST", "/patients", `{"name":"A B","name":"C D","email":"dup@example.com","address":"x","dateOfBirth":"1980-01-01"}`, "name"},
		{"PATCH", "/patients/" + p.ID, `{"phone":"1","phone":"2"}`, "phone"},
		{"POST", "/fhir/R4/Patient", `{"resourceType":"Observation","name":[{"text":"A B"}],"resourceType":"Patient"}`, "resourceType"},
		{"PUT", "/fhir/R4/Patient/" + p.ID, `{"resourceType":"Patient","id":"wrong","name":[{"text":"A B","text":"C"}],"id":"` + p.ID + `"}`, "name[0].text"},
		{"POST", "/auth/users", `{"email":"a@example.com","password":"a long enough password","role":"billing","role":"admin"}`, "role"},
		{"POST", "/billing/accounts/" + p.BillingAccountID + "/payments", `{"amountMinor":100,"method":"CASH","amountMinor":1}`, "amountMinor"},
		{"POST", "/admin/dead-letters/redrive", `{"all":false,"all":true}`, "all"},
	} {
		status, body := send(t, tc.method, gateway+tc.path, tc.body, false, "If-Match", fmt.Sprintf(`"%d"`, p.Version),
			"Idempotency-Key", uuid.NewString())
		assert.Equal(t, http.StatusBadRequest, status, "%s %s: %s", tc.method, tc.path, body)
		assert.Contains(t, body, tc.key, "%s %s names the key", tc.method, tc.path)
		assert.Contains(t, body, "twice", "%s %s", tc.method, tc.path)
	}
	status, body := send(t, http.MethodPost, gateway+"/auth/login", `{"email":"a@example.com","email":"b@example.com","password":"x"}`, false)
	assert.Equal(t, http.StatusBadRequest, status, body)
	assert.Contains(t, body, `"field":"email"`)
}

// A token naming a kid the JWKS does not hold is refused quickly (p99
// under 100 ms over 100 tries) while real tokens keep working: a request
// never waits for a re-read of the JWKS.
func TestUnknownKeyIDsAreRefusedQuickly(t *testing.T) {
	stranger, err := authntest.NewSigner("http://localhost:4004/auth", "pms-api")
	require.NoError(t, err)
	var took []time.Duration
	for i := range 100 {
		tok := stranger.Token(authntest.Claims{Role: "admin", Subject: fmt.Sprint("forged-", i)})
		start := time.Now()
		r := doAs(t, tok, http.MethodGet, gateway+"/patients?limit=1", nil)
		took = append(took, time.Since(start))
		require.Equal(t, http.StatusUnauthorized, r.status)
		if i%10 == 0 {
			require.Equal(t, http.StatusOK, do(t, http.MethodGet, gateway+"/patients?limit=1", nil).status, "real tokens keep working")
		}
	}
	slices.Sort(took)
	p99 := took[98]
	t.Logf("unknown kid refused: median %v, p99 %v, max %v", took[50], p99, took[99])
	assert.Less(t, p99, 100*time.Millisecond)
}

// The gateway's refusals are in its audit lines as docs/security.md says:
// a clinician's refused payment (403, role) and a request without a valid
// token (401), with the route and, for the first, the clinician.
func TestGatewayRefusalsAreAudited(t *testing.T) {
	p, _ := createPatient(t, newPatient("Refused Payment"))
	clinician := tokenFor(t, "clinician")
	r := doAs(t, clinician, http.MethodPost, gateway+"/billing/accounts/"+p.BillingAccountID+"/payments",
		map[string]any{"amountMinor": 100, "method": "CASH"}, "Idempotency-Key", uuid.NewString())
	require.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
	rid := r.header.Get("X-Request-Id")
	r = doAs(t, "not-a-token", http.MethodGet, gateway+"/billing/accounts", nil)
	require.Equal(t, http.StatusUnauthorized, r.status)
	rid401 := r.header.Get("X-Request-Id")

	var lines []map[string]any
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		lines = refusalLines(t)
		if hasLine(lines, rid) && hasLine(lines, rid401) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, l := range lines {
		switch l["request_id"] {
		case rid:
			assert.Equal(t, "role", l["reason"])
			assert.Equal(t, "/billing/accounts/{id}/payments", l["route"])
			assert.Equal(t, "clinician", l["role"])
			assert.NotEmpty(t, l["user"])
		case rid401:
			assert.Equal(t, "token", l["reason"])
			assert.Equal(t, "/billing/accounts", l["route"])
		}
	}
	assert.True(t, hasLine(lines, rid), "the 403 is audited")
	assert.True(t, hasLine(lines, rid401), "the 401 is audited")
}

// refusalLines are the gateway's "refused" audit lines so far.
func refusalLines(t *testing.T) []map[string]any {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(sys.App("api-gateway").LogDir, "*.log"))
	require.NoError(t, err)
	sort.Strings(files)
	var out []map[string]any
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, line := range strings.Split(string(raw), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "audit" && m["action"] == "refused" {
				out = append(out, m)
			}
		}
	}
	return out
}

func hasLine(lines []map[string]any, rid string) bool {
	for _, l := range lines {
		if l["request_id"] == rid {
			return true
		}
	}
	return false
}

// A URL too long for the sidecar, or for the gateway, is answered as a
// problem (an OperationOutcome on FHIR paths), never in plain text.
func TestLongURLsAreAnsweredAsProblems(t *testing.T) {
	for _, n := range []int{12 << 10, 20 << 10} {
		for _, path := range []string{"/fhir/R4/Patient?name=", "/patients?q="} {
			req, err := http.NewRequest(http.MethodGet, gateway+path+strings.Repeat("a", n), nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+adminToken)
			resp, err := httpClient.Do(req)
			require.NoError(t, err)
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.Contains(t, []int{http.StatusRequestURITooLong, http.StatusRequestHeaderFieldsTooLarge}, resp.StatusCode, "%s %d bytes", path, n)
			if strings.HasPrefix(path, "/fhir/") {
				assert.Contains(t, string(raw), `"OperationOutcome"`, "%s %d bytes", path, n)
			} else {
				assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"), "%s %d bytes", path, n)
			}
		}
	}
}
