package gateway_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/platform/authn/authntest"
)

func TestForwardsThroughSidecarToOwningApp(t *testing.T) {
	signer := newSigner(t)
	bearer := readyBearer(t, signer)
	sidecar, got := fakeSidecar(t, http.StatusCreated, "application/json", `{"id":"1"}`)
	req := httptest.NewRequest(http.MethodPost, "/patients?x=1&y=2", strings.NewReader(`{"name":"Ada"}`))
	req.Header.Set("Authorization", "Bearer "+signer.Token(authntest.Claims{Role: "clinician"}))
	req.Header.Set("Dapr-App-Id", "billing-service")   // a client must not pick the target
	req.Header.Set("Dapr-Api-Token", "client-guessed") // nor present its own sidecar token
	req.Header.Set("X-Request-Id", "req-123")
	rec := httptest.NewRecorder()
	routes(sidecar, bearer.Middleware).ServeHTTP(rec, req)

	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	assert.JSONEq(t, `{"id":"1"}`, rec.Body.String())
	ours := rec.Header().Get("X-Request-Id")
	assert.NotEqual(t, "req-123", ours, "the gateway chooses the request id the audit trail records")
	assert.Equal(t, seen{method: "POST", path: "/patients", query: "x=1&y=2", body: `{"name":"Ada"}`,
		appID: "patient-service", token: daprToken, requestID: ours, xff: "192.0.2.1", clientID: "req-123"}, *got)
	assert.Len(t, rec.Header().Values("X-Request-Id"), 1, "one request id in the answer")
	assert.Equal(t, "req-123", rec.Header().Get("X-Client-Request-Id"), "the client's own id is kept beside it")
}

func TestAuthRoutesLosePrefixAndLoginNeedsNoToken(t *testing.T) {
	signer := newSigner(t)
	sidecar, got := fakeSidecar(t, http.StatusOK, "application/json", `{}`)
	h := routes(sidecar, readyBearer(t, signer).Middleware)
	for path, want := range map[string]string{
		"/auth/login":                            "/login",
		"/auth/refresh":                          "/refresh",
		"/auth/.well-known/jwks.json":            "/.well-known/jwks.json",
		"/auth/.well-known/openid-configuration": "/.well-known/openid-configuration",
	} {
		method := http.MethodPost
		if strings.Contains(path, "well-known") {
			method = http.MethodGet
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(`{}`)))
		assert.Equal(t, http.StatusOK, rec.Code, path)
		assert.Equal(t, want, got.path)
		assert.Equal(t, "auth-service", got.appID)
	}
}

func TestUnknownPathsStayInside(t *testing.T) {
	signer := newSigner(t)
	sidecar, got := fakeSidecar(t, http.StatusOK, "application/json", `{}`)
	h := routes(sidecar, readyBearer(t, signer).Middleware)
	for _, p := range []string{"/v1.0/invoke/billing-service/method/x", "/v1.0/secrets/envstore/KAFKA_BROKERS", "/events/patient", "/console/../patients", "/docs/../v1.0/metadata", "/auth/../patients"} {
		req := httptest.NewRequest(http.MethodGet, p, nil)
		req.Header.Set("Authorization", "Bearer "+signer.Token(authntest.Claims{}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		assert.Contains(t, []int{http.StatusBadRequest, http.StatusNotFound, http.StatusMethodNotAllowed}, rec.Code, p)
	}
	assert.Empty(t, got.path, "nothing reached the sidecar")
}

// PathVariants are requests whose path is not a canonical route of the
// gateway: each must be refused by the gateway itself (400, 404 or 405),
// with any role, and never reach the sidecar. The end-to-end suite sends
// the same table to the running system.
var pathVariants = []struct {
	method, path string
	want         int
}{
	{"GET", "/patients/..%2Fv1.0%2Fmetadata", 400},
	{"GET", "/patients/..%2fv1.0%2fhealthz", 400},
	{"PUT", "/patients/..%2Fv1.0%2Fstate%2Fx", 400},
	{"GET", "/patients/../v1.0/metadata", 400},
	{"GET", "/patients/./" + someID, 400},
	{"GET", "/patients/%2E%2E/v1.0/metadata", 400},
	{"GET", "/patients/" + someID + "%2Faudit", 400},
	{"GET", "/patients/" + someID + "/audit/", 400},
	{"GET", "/patients/" + someID + "/audit/.", 400},
	{"GET", "/patients/" + someID + "/./audit", 400},
	{"GET", "/patients/x/../" + someID + "/audit", 400},
	{"GET", "/patients//" + someID, 400},
	{"GET", "//patients", 400},
	{"GET", "/patients/", 400},
	{"GET", "/patients%5C" + someID, 400},
	{"GET", "/patients/%00", 400},
	{"GET", "/patients/%0D%0Ax", 400},
	{"GET", "/patients/" + someID + "/AUDIT", 404},
	{"GET", "/Patients", 404},
	{"GET", "/PATIENTS/" + someID, 404},
	{"GET", "/patients/not-a-uuid", 404},
	{"GET", "/patients/%FF", 404},
	{"GET", "/patients/%C0%AF", 404},
	{"GET", "/v1.0/metadata", 404},
	{"GET", "/v1.0/healthz", 404},
	{"POST", "/v1.0/publish/pubsub/patient", 404},
	{"GET", "/analytics/summary/x", 404},
	{"POST", "/patients/" + someID, 405},
	{"GET", "/auth/users/" + someID, 405},
}

func TestNonCanonicalPathsNeverReachTheSidecar(t *testing.T) {
	signer := newSigner(t)
	sidecar, got := fakeSidecar(t, http.StatusOK, "application/json", `{}`)
	h := routes(sidecar, readyBearer(t, signer).Middleware)
	for _, role := range []string{"admin", "clinician", "billing"} {
		for _, v := range pathVariants {
			req := httptest.NewRequest(v.method, "http://localhost"+v.path, strings.NewReader(`{}`))
			req.Header.Set("Authorization", "Bearer "+signer.Token(authntest.Claims{Role: role}))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			assert.Equal(t, v.want, rec.Code, "%s %s %s: %s", role, v.method, v.path, rec.Body.String())
			assert.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"), v.path)
		}
	}
	assert.Empty(t, got.path, "nothing reached the sidecar")
}

// Method-override headers do not change what the role rules saw: they are
// dropped before the call.
func TestMethodOverrideHeadersAreDropped(t *testing.T) {
	signer := newSigner(t)
	sidecar, got := fakeSidecar(t, http.StatusOK, "application/json", `{}`)
	h := routes(sidecar, readyBearer(t, signer).Middleware)
	req := httptest.NewRequest(http.MethodGet, "/patients/"+strings.ToUpper(someID)+"?b=2&a=1", nil)
	req.Header.Set("Authorization", "Bearer "+signer.Token(authntest.Claims{Role: "billing"}))
	for _, hdr := range []string{"X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"} {
		req.Header.Set(hdr, "DELETE")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "GET", got.method)
	assert.Equal(t, "/patients/"+someID, got.path, "the id is forwarded in canonical form")
	assert.Equal(t, "a=1&b=2", got.query, "the query as the gateway parsed it")
	assert.Empty(t, got.override)
}

func TestInvocationFailuresBecomeProblems(t *testing.T) {
	signer := newSigner(t)
	bearer := readyBearer(t, signer)
	cases := map[string]struct {
		status      int
		contentType string
		body        string
		want        int
	}{
		"sidecar cannot reach app": {500, "application/json", `{"errorCode":"ERR_DIRECT_INVOKE","message":"fail to invoke"}`, 503},
		"app's own problem passes": {500, "application/problem+json", `{"status":500,"title":"Internal Server Error"}`, 500},
		"app's json 500 passes":    {500, "application/json", `{"error":"x"}`, 500},
		"app's 404 passes":         {404, "application/problem+json", `{"status":404}`, 404},
		"sidecar's empty 200":      {200, "", "", 503},
		"app's 204 passes":         {204, "", "", 204},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			sidecar, _ := fakeSidecar(t, tc.status, tc.contentType, tc.body)
			req := httptest.NewRequest(http.MethodGet, "/patients/"+someID, nil)
			req.Header.Set("Authorization", "Bearer "+signer.Token(authntest.Claims{}))
			rec := httptest.NewRecorder()
			routes(sidecar, bearer.Middleware).ServeHTTP(rec, req)
			assert.Equal(t, tc.want, rec.Code)
			if tc.want != tc.status {
				assert.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
				assert.NotContains(t, rec.Body.String(), "ERR_DIRECT_INVOKE", "sidecar internals are not shown")
			} else {
				assert.Equal(t, tc.body, rec.Body.String())
			}
		})
	}
}

func TestSidecarDownIsBadGateway(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	u, _ := url.Parse(srv.URL)
	srv.Close()
	rec := httptest.NewRecorder()
	routes(u, func(h http.Handler) http.Handler { return h }).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/auth/login", strings.NewReader("{}")))
	require.Equal(t, http.StatusBadGateway, rec.Code)
	var p struct{ Status int }
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
	assert.Equal(t, http.StatusBadGateway, p.Status)
}

// daprd streams what it forwards (no Content-Length, a flush per write).
// The gateway passes an answer of up to 256 KiB on with its length, in
// one piece, and a larger one intact as it comes; a streamed empty 200
// without a type is still the sidecar's hollow success.
func TestStreamedAnswersArePassedOnWithTheirLength(t *testing.T) {
	signer := newSigner(t)
	bearer := readyBearer(t, signer)
	for name, tc := range map[string]struct {
		size       int
		wantLength bool
	}{
		"small":        {1500, true},
		"at the bound": {256 << 10, true},
		"larger":       {256<<10 + 1, false},
	} {
		t.Run(name, func(t *testing.T) {
			body := strings.Repeat("x", tc.size)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				for rest := body; rest != ""; {
					n := min(len(rest), 1000)
					_, _ = w.Write([]byte(rest[:n]))
					w.(http.Flusher).Flush()
					rest = rest[n:]
				}
			}))
			t.Cleanup(srv.Close)
			sidecar, _ := url.Parse(srv.URL)
			gw := httptest.NewServer(routes(sidecar, bearer.Middleware))
			t.Cleanup(gw.Close)
			req, _ := http.NewRequest(http.MethodGet, gw.URL+"/patients/"+someID, nil)
			req.Header.Set("Authorization", "Bearer "+signer.Token(authntest.Claims{}))
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			got, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, body, string(got))
			if tc.wantLength {
				assert.Equal(t, int64(tc.size), resp.ContentLength)
				assert.Empty(t, resp.TransferEncoding)
			} else {
				assert.Equal(t, int64(-1), resp.ContentLength)
			}
		})
	}
	t.Run("hollow", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Del("Content-Type")
			w.(http.Flusher).Flush() // headers out, no length, no body
		}))
		t.Cleanup(srv.Close)
		sidecar, _ := url.Parse(srv.URL)
		req := httptest.NewRequest(http.MethodGet, "/patients/"+someID, nil)
		req.Header.Set("Authorization", "Bearer "+signer.Token(authntest.Claims{}))
		rec := httptest.NewRecorder()
		routes(sidecar, bearer.Middleware).ServeHTTP(rec, req)
		assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	})
}
