package gateway_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/apps/api-gateway/internal/gateway"
)

// A header value a sidecar cannot carry is the client's mistake: 400
// naming the header (an OperationOutcome on FHIR paths), never forwarded,
// never an outage.
func TestHeadersThatAreNotPrintableASCIIAreRefused(t *testing.T) {
	sidecar, got := fakeSidecar(t, http.StatusOK, "application/json", `{}`)
	h := routes(sidecar, func(h http.Handler) http.Handler { return h })
	for _, tc := range []struct{ path, value, want string }{
		{"/fhir/R4/metadata", "caf\xe9", "OperationOutcome"},
		{"/auth/login", "caf\xc3\xa9", `"field":"header X-Probe"`},
		{"/patients", "\xff", `"field":"header X-Probe"`},
	} {
		*got = seen{}
		req := httptest.NewRequest(http.MethodGet, tc.path, nil)
		if tc.path == "/auth/login" {
			req = httptest.NewRequest(http.MethodPost, tc.path, strings.NewReader(`{}`))
		}
		req.Header.Set("X-Probe", tc.value)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		assert.Equal(t, http.StatusBadRequest, rec.Code, "%s %q", tc.path, tc.value)
		assert.Contains(t, rec.Body.String(), tc.want)
		assert.Empty(t, got.path, "nothing is forwarded")
	}
	req := httptest.NewRequest(http.MethodGet, "/fhir/R4/metadata", nil)
	req.Header.Set("X-Probe", "plain\tascii ~")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusOK, rec.Code, "printable ASCII and tabs pass")
}

// A chunked body (no Content-Length) over the limit is refused with 413
// every time, before anything is forwarded; one within it is forwarded
// whole, with its length.
func TestChunkedBodiesAreLimitedBeforeForwarding(t *testing.T) {
	sidecar, got := fakeSidecar(t, http.StatusOK, "application/json", `{}`)
	srv := httptest.NewServer(routes(sidecar, func(h http.Handler) http.Handler { return h }))
	defer srv.Close()
	send := func(n int) (int, string) {
		body := io.MultiReader(strings.NewReader(`{"password":"`), strings.NewReader(strings.Repeat("x", n)), strings.NewReader(`"}`))
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/auth/login", body)
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.ContentLength = -1 // sent chunked
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for range 10 {
		*got = seen{}
		status, body := send(gateway.MaxBodyBytes)
		assert.Equal(t, http.StatusRequestEntityTooLarge, status, body)
		assert.Empty(t, got.path, "nothing is forwarded")
	}
	status, _ := send(1000)
	assert.Equal(t, http.StatusOK, status)
	assert.Len(t, got.body, 1000+len(`{"password":""}`), "a body within the limit arrives whole")
}
