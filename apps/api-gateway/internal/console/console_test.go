package console_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/apps/api-gateway/internal/console"
)

func get(h http.HandlerFunc, path string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec
}

func TestConsolePageLoadsOnlyItsOwnAssets(t *testing.T) {
	rec := get(console.Index, "/")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "text/html; charset=utf-8", rec.Header().Get("Content-Type"))
	assert.Equal(t, console.CSP, rec.Header().Get("Content-Security-Policy"))
	page := rec.Body.String()
	assert.NotRegexp(t, regexp.MustCompile(`(src|href)="https?:`), page, "nothing from another origin")
	assert.NotContains(t, page, "<script>", "no inline script (the CSP forbids it)")
	for _, asset := range []string{"/console/app.js", "/console/app.css"} {
		assert.Contains(t, page, `"`+asset+`"`)
		rec := get(console.Asset, asset)
		assert.Equal(t, http.StatusOK, rec.Code, asset)
		assert.Equal(t, console.CSP, rec.Header().Get("Content-Security-Policy"))
	}
	assert.Equal(t, "text/javascript; charset=utf-8", get(console.Asset, "/console/app.js").Header().Get("Content-Type"))
	assert.Equal(t, http.StatusNotFound, get(console.Asset, "/console/missing.js").Code)
}

// The console keeps the access token in memory: nothing in any of its
// scripts writes to web storage, and they render API data as text, never
// as markup. Every module a script imports is served.
func TestConsoleNeverStoresTokensOrRendersMarkup(t *testing.T) {
	imports := regexp.MustCompile(`from "\./([a-z]+\.js)"`)
	seen := map[string]bool{}
	queue := []string{"app.js"}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if seen[name] {
			continue
		}
		seen[name] = true
		rec := get(console.Asset, "/console/"+name)
		require.Equal(t, http.StatusOK, rec.Code, name)
		js := rec.Body.String()
		for _, forbidden := range []string{"localStorage", "sessionStorage", "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("} {
			assert.NotContains(t, js, forbidden, name)
		}
		for _, m := range imports.FindAllStringSubmatch(js, -1) {
			queue = append(queue, m[1])
		}
	}
	assert.Len(t, seen, 4, "app.js and the modules it imports: %v", seen)
}
