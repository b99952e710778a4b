package gateway_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

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
