package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"
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

// checkOpenAPI verifies that every response the gateway gave in the suite
// matches the OpenAPI document it serves: documented path, method and
// status, and a body of the documented media type and schema. TestMain runs
// it after every test, whatever their order.
func checkOpenAPI(root string) error {
	raw, err := os.ReadFile(filepath.Join(root, "apps", "api-gateway", "internal", "apidocs", "openapi.yaml"))
	if err != nil {
		return err
	}
	served, err := get(gateway + "/openapi.yaml")
	if err != nil {
		return err
	}
	if served != string(raw) {
		return errors.New("the gateway does not serve the document in the repository")
	}
	if _, err := get(gateway + "/docs"); err != nil {
		return err
	}

	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.FileBodyDecoder)
	openapi3filter.RegisterBodyDecoder("application/fhir+json", fhirJSON)
	openapi3filter.RegisterBodyDecoder("application/fhir+ndjson", openapi3filter.FileBodyDecoder)
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		return err
	}
	if err := doc.Validate(context.Background()); err != nil {
		return err
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return err
	}

	exchangesMu.Lock()
	all := append([]exchange(nil), exchanges...)
	exchangesMu.Unlock()
	// The whole suite must exercise the API; a run of chosen tests (-run)
	// has its responses checked all the same.
	if len(all) < 100 && flag.Lookup("test.run").Value.String() == "" {
		return fmt.Errorf("only %d gateway responses recorded: the suite did not exercise the API", len(all))
	}
	var errs []error
	seen := map[string]bool{}
	for _, ex := range all {
		req := ex.req.Clone(context.Background())
		req.URL.Host = "localhost:4004" // the document's server
		req.Host = "localhost:4004"
		req.Body = io.NopCloser(bytes.NewReader(ex.body))
		route, params, err := router.FindRoute(req)
		if refusedBeforeRouting(ex, err == nil) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %s (%d): not in the document: %v", ex.req.Method, ex.req.URL.Path, ex.status, err))
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
			errs = append(errs, fmt.Errorf("%s %s → %d does not match the document: %v\nbody: %.300s", ex.req.Method, ex.req.URL.Path, ex.status, err, ex.resp))
		}
		seen[route.Method+" "+route.Path] = true
	}
	fmt.Printf("e2e: checked %d gateway responses over %d documented operations against the OpenAPI document\n", len(all), len(seen))
	return errors.Join(errs...)
}

// refusedBeforeRouting reports whether the gateway refused the request
// for its path alone, which it does on any path (documented once, in the
// document's description, not per operation): 400 for a path not in
// canonical form, or 404/405 for one that names no documented operation.
func refusedBeforeRouting(ex exchange, documented bool) bool {
	fhir := strings.HasPrefix(ex.req.URL.Path, "/fhir/")
	switch ct := ex.header.Get("Content-Type"); {
	case fhir && ct != "application/fhir+json; charset=utf-8", !fhir && ct != "application/problem+json":
		return false
	}
	switch ex.status {
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		return !documented
	case http.StatusBadRequest:
		var p struct {
			Errors []struct{ Field string }
			Issue  []struct{ Expression []string }
		}
		if json.Unmarshal(ex.resp, &p) != nil {
			return false
		}
		if fhir { // the OperationOutcome of a problem: a summary, then the field
			return len(p.Issue) == 2 && len(p.Issue[1].Expression) == 1 && p.Issue[1].Expression[0] == "path"
		}
		return len(p.Errors) == 1 && p.Errors[0].Field == "path"
	}
	return false
}

// get returns the body of a 200 answer to a GET of u.
func get(u string) (string, error) {
	resp, err := http.Get(u)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return string(b), nil
}

// fhirJSON decodes application/fhir+json bodies, which are JSON.
func fhirJSON(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
	var v any
	err := json.NewDecoder(body).Decode(&v)
	return v, err
}
