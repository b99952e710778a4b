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

func TestReferencePageListsEveryOperation(t *testing.T) {
	page, err := apidocs.Page()
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	page(rec, httptest.NewRequest(http.MethodGet, "/docs", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	body := rec.Body.String()
	doc, err := openapi3.NewLoader().LoadFromData(apidocs.Document)
	require.NoError(t, err)
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			assert.Contains(t, body, method+`</span> <code>`+path+`</code>`, "%s %s", method, path)
		}
	}
}
