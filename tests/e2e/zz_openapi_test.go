package e2e

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/stretchr/testify/require"
)

// exchange is one request to the gateway and its answer, kept so every
// response of the suite can be checked against the OpenAPI document.
type exchange struct {
	req    *http.Request
	body   []byte
	status int
	header http.Header
	resp   []byte
}

var (
	exchangesMu sync.Mutex
	exchanges   []exchange
)

// record keeps exchanges with the gateway (not with sidecars or app ports,
// which are not part of the public API).
func record(req *http.Request, body []byte, resp *http.Response, respBody []byte) {
	if !strings.HasPrefix(req.URL.String(), gateway+"/") {
		return
	}
	exchangesMu.Lock()
	defer exchangesMu.Unlock()
	exchanges = append(exchanges, exchange{req: req, body: body, status: resp.StatusCode, header: resp.Header, resp: respBody})
}

// Every response the gateway gave in this suite matches the OpenAPI
// document it serves: documented path, method and status, and a body of
// the documented media type and schema. (Named to run last.)
func TestZZEveryResponseMatchesTheOpenAPIDocument(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(sys.Root(), "apps", "api-gateway", "internal", "apidocs", "openapi.yaml"))
	require.NoError(t, err)
	served := doAs(t, "", http.MethodGet, gateway+"/openapi.yaml", nil)
	require.Equal(t, http.StatusOK, served.status)
	require.Equal(t, string(raw), string(served.body), "the gateway serves the document in the repository")
	require.Equal(t, http.StatusOK, doAs(t, "", http.MethodGet, gateway+"/docs", nil).status)

	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.FileBodyDecoder)
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	require.NoError(t, err)
	require.NoError(t, doc.Validate(context.Background()))
	router, err := gorillamux.NewRouter(doc)
	require.NoError(t, err)

	exchangesMu.Lock()
	all := append([]exchange(nil), exchanges...)
	exchangesMu.Unlock()
	require.Greater(t, len(all), 100, "the suite exercised the API")
	seen := map[string]bool{}
	for _, ex := range all {
		req := ex.req.Clone(context.Background())
		req.URL.Host = "localhost:4004" // the document's server
		req.Host = "localhost:4004"
		req.Body = io.NopCloser(bytes.NewReader(ex.body))
		route, params, err := router.FindRoute(req)
		if err != nil {
			t.Errorf("%s %s (%d): not in the document: %v", ex.req.Method, ex.req.URL.Path, ex.status, err)
			continue
		}
		in := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
				Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
			Status: ex.status,
			Header: ex.header,
			Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true,
				AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		}
		in.SetBodyBytes(ex.resp)
		if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
			t.Errorf("%s %s → %d does not match the document: %v\nbody: %.300s", ex.req.Method, ex.req.URL.Path, ex.status, err, ex.resp)
		}
		seen[route.Method+" "+route.Path] = true
	}
	t.Logf("checked %d responses over %d documented operations", len(all), len(seen))
}
