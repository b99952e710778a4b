// Package apidocs serves the gateway's API contract: the OpenAPI document
// itself and, at /docs, Swagger UI rendering it (schemas, examples, "try
// it out"), so the docs a person reads are the document the tests check
// responses against. Swagger UI is vendored from the npm registry
// (tools/web/vendor.sh) and embedded: /docs works offline, with no CDN.
package apidocs

import (
	"embed"
	"net/http"
	"path"

	"github.com/pms-dapr/pms/apps/api-gateway/internal/static"
	"github.com/pms-dapr/pms/platform/problem"
)

// Document is the OpenAPI 3.1 description of everything the gateway serves.
//
//go:embed openapi.yaml
var Document []byte

// Spec serves the document.
func Spec(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(Document)
}

//go:embed docs.html docs.js swagger-ui
var ui embed.FS

// CSP is /docs's Content-Security-Policy: Swagger UI's own script and
// styles (it sets inline styles), its data: icons, and calls to this
// origin only.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// Page serves the reference page (GET /docs).
func Page(w http.ResponseWriter, r *http.Request) { serve(w, r, "docs.html") }

// Asset serves /docs/{file}: the page's script and Swagger UI's files.
func Asset(w http.ResponseWriter, r *http.Request) {
	name := path.Base(r.URL.Path)
	switch name {
	case "docs.js":
		serve(w, r, name)
	case "swagger-ui-bundle.js", "swagger-ui.css":
		serve(w, r, "swagger-ui/"+name)
	default:
		problem.NotFound(w, r)
	}
}

func serve(w http.ResponseWriter, r *http.Request, name string) {
	static.Serve(w, r, ui, name, CSP, "public, max-age=300")
}
