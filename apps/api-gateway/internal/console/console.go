// Package console serves the staff console: static assets embedded in the
// gateway binary (plain ES modules, no build step: nothing to install and
// nothing generated to keep in step), which call only the public REST API.
package console

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/pms-dapr/pms/apps/api-gateway/internal/static"
	"github.com/pms-dapr/pms/platform/problem"
)

//go:embed static
var assets embed.FS

// CSP is the console's Content-Security-Policy: its own scripts, styles
// and API only — no inline script, no other origin.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

var files, _ = fs.Sub(assets, "static")

// Index serves the console's page (GET /).
func Index(w http.ResponseWriter, r *http.Request) { serve(w, r, "index.html", "no-cache") }

// Asset serves /console/{file}.
func Asset(w http.ResponseWriter, r *http.Request) {
	name := path.Base(r.URL.Path)
	if name == "index.html" || strings.HasPrefix(name, ".") {
		problem.NotFound(w, r)
		return
	}
	serve(w, r, name, "no-cache")
}

func serve(w http.ResponseWriter, r *http.Request, name, cache string) {
	static.Serve(w, r, files, name, CSP, cache)
}
