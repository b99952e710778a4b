package gateway_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/pms-dapr/pms/apps/api-gateway/internal/gateway"
	"github.com/pms-dapr/pms/platform/authn/authntest"
)

// FuzzRouting sends arbitrary paths and queries with every method: the
// gateway never answers 5xx or panics, and whatever it forwards has a path
// made of canonical segments only (no dot segments, no encoded separators).
// `go test` runs the seeds; `go test -fuzz FuzzRouting` explores.
func FuzzRouting(f *testing.F) {
	for _, v := range pathVariants {
		f.Add(v.method, v.path)
	}
	for _, seed := range []string{"/patients?name=%00", "/patients?q=%FF&limit=-1", "/patients/" + someID + "/audit",
		"/auth/users/" + someID, "/analytics/summary", "/patients?cursor=%zz", "/%", "/patients/%25"} {
		f.Add("GET", seed)
	}
	signer := newSigner(f)
	sidecar, got := fakeSidecar(f, http.StatusOK, "application/json", `{}`)
	h := routes(sidecar, readyBearer(f, signer).Middleware)
	token := signer.Token(authntest.Claims{Role: "admin"})
	f.Fuzz(func(t *testing.T, method, target string) {
		switch method {
		case "GET", "POST", "PUT", "PATCH", "DELETE":
		default:
			return
		}
		u, err := url.ParseRequestURI(target)
		if err != nil || u.Host != "" || !strings.HasPrefix(target, "/") || strings.ContainsFunc(target, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
			return // not a request target a client could send on the wire
		}
		*got = seen{}
		req := httptest.NewRequest(method, target, strings.NewReader(`{}`))
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %q: %d %s", method, target, rec.Code, rec.Body.String())
		}
		if got.path != "" {
			for _, seg := range strings.Split(got.path[1:], "/") {
				if seg == "" || seg == "." || seg == ".." || strings.ContainsAny(seg, `%\`) {
					t.Fatalf("%s %q forwarded as %q", method, target, got.path)
				}
			}
		}
	})
}

// FuzzHeadersAndBodies sends arbitrary header values (any bytes), bodies
// around the size limit, chunked or not, with or without Expect:
// 100-continue: never a 5xx; a value that is not printable ASCII is a 400
// and never reaches the sidecar; a body over the limit is a 413.
// `go test -fuzz FuzzHeadersAndBodies` explores.
func FuzzHeadersAndBodies(f *testing.F) {
	for _, seed := range []struct {
		value   string
		size    int
		chunked bool
		expect  bool
	}{
		{"plain", 10, false, false},
		{"caf\xe9", 10, false, true},
		{"caf\xc3\xa9", 0, true, false},
		{"a\x01b", 10, true, true},
		{"tab\there", gatewayLimit, true, true},
		{"\xff", gatewayLimit + 1, true, false},
		{"x", gatewayLimit + 1, false, true},
	} {
		f.Add(seed.value, seed.size, seed.chunked, seed.expect)
	}
	signer := newSigner(f)
	sidecar, got := fakeSidecar(f, http.StatusOK, "application/json", `{}`)
	h := routes(sidecar, readyBearer(f, signer).Middleware)
	token := signer.Token(authntest.Claims{Role: "admin"})
	f.Fuzz(func(t *testing.T, value string, size int, chunked, expect bool) {
		if size < 0 || size > gatewayLimit+64 {
			return
		}
		*got = seen{}
		body := strings.Repeat("x", size)
		req := httptest.NewRequest(http.MethodPost, "/patients", strings.NewReader(body))
		if chunked {
			req.ContentLength = -1
		}
		if expect {
			req.Header.Set("Expect", "100-continue")
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header["X-Probe"] = []string{value} // any bytes, as a client could send
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		ascii := !strings.ContainsFunc(value, func(r rune) bool { return (r < 0x20 && r != '\t') || r > 0x7e })
		switch {
		case rec.Code >= 500:
			t.Fatalf("X-Probe %q, %d bytes: %d %s", value, size, rec.Code, rec.Body.String())
		case !ascii && (rec.Code != http.StatusBadRequest || got.path != ""):
			t.Fatalf("X-Probe %q: %d, forwarded %q", value, rec.Code, got.path)
		case ascii && size > gatewayLimit && rec.Code != http.StatusRequestEntityTooLarge:
			t.Fatalf("%d bytes (chunked %v): %d", size, chunked, rec.Code)
		case ascii && size <= gatewayLimit && got.body != body:
			t.Fatalf("%d bytes (chunked %v) did not arrive whole (%d)", size, chunked, rec.Code)
		}
	})
}

// gatewayLimit is the gateway's body limit.
const gatewayLimit = gateway.MaxBodyBytes
