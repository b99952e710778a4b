package apidocs_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/apps/api-gateway/internal/apidocs"
)

func TestDocumentIsValidOpenAPI31(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(apidocs.Document)
	require.NoError(t, err)
	require.True(t, doc.IsOpenAPI31OrLater(), "version %s", doc.OpenAPI)
	require.NoError(t, doc.Validate(context.Background()))
	for _, p := range []string{"/auth/login", "/patients", "/patients/{id}", "/patients/{id}/audit", "/analytics/summary"} {
		assert.NotNil(t, doc.Paths.Find(p), p)
	}
}

func TestReferencePageIsSwaggerUIOnTheDocument(t *testing.T) {
	rec := httptest.NewRecorder()
	apidocs.Page(rec, httptest.NewRequest(http.MethodGet, "/docs", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	page := rec.Body.String()
	assert.Equal(t, "text/html; charset=utf-8", rec.Header().Get("Content-Type"))
	assert.Equal(t, apidocs.CSP, rec.Header().Get("Content-Security-Policy"))
	assert.NotContains(t, page, "http", "no script, style or font from another origin")
	for _, asset := range []string{"/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css", "/docs/docs.js"} {
		assert.Contains(t, page, `"`+asset+`"`)
		rec := httptest.NewRecorder()
		apidocs.Asset(rec, httptest.NewRequest(http.MethodGet, asset, nil))
		assert.Equal(t, http.StatusOK, rec.Code, asset)
		assert.Greater(t, rec.Body.Len(), 100, asset)
	}
	rec = httptest.NewRecorder()
	apidocs.Asset(rec, httptest.NewRequest(http.MethodGet, "/docs/LICENSE", nil))
	assert.Equal(t, http.StatusNotFound, rec.Code, "only the page's assets are served")
}
