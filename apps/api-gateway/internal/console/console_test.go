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

// The console keeps the access token in memory: nothing in it writes to
// web storage, and it renders API data as text, never as markup.
func TestConsoleNeverStoresTokensOrRendersMarkup(t *testing.T) {
	js := get(console.Asset, "/console/app.js").Body.String()
	for _, forbidden := range []string{"localStorage", "sessionStorage", "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("} {
		assert.NotContains(t, js, forbidden)
	}
}
