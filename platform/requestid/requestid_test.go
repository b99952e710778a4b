package requestid_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/pms-dapr/pms/platform/requestid"
)

func TestRequestIDsKeepsWellFormedIDsAndReplacesOthers(t *testing.T) {
	var inCtx string
	h := requestid.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		inCtx = requestid.From(r.Context())
	}))
	cases := map[string]bool{"abc-123_x.y": true, "": false, "bad id\n": false, string(make([]byte, 200)): false}
	for in, kept := range cases {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("X-Request-Id", in)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		out := rec.Header().Get("X-Request-Id")
		assert.Equal(t, out, inCtx, "the context carries the answered id")
		if kept {
			assert.Equal(t, in, out)
		} else {
			assert.Len(t, out, 36, "a fresh uuid replaces %q", in)
		}
	}
}
