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
)

//go:embed static
var static embed.FS

// CSP is the console's Content-Security-Policy: its own scripts, styles
// and API only — no inline script, no other origin.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

var files, _ = fs.Sub(static, "static")

// Index serves the console's page (GET /).
func Index(w http.ResponseWriter, r *http.Request) { serve(w, r, "index.html", "no-cache") }

// Asset serves /console/{file}.
func Asset(w http.ResponseWriter, r *http.Request) {
	name := path.Base(r.URL.Path)
	if name == "index.html" || strings.HasPrefix(name, ".") {
		http.NotFound(w, r)
		return
	}
	serve(w, r, name, "no-cache")
}

func serve(w http.ResponseWriter, r *http.Request, name, cache string) {
	b, err := fs.ReadFile(files, name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", CSP)
	h.Set("Cache-Control", cache)
	switch path.Ext(name) {
	case ".html":
		h.Set("Content-Type", "text/html; charset=utf-8")
	case ".js":
		h.Set("Content-Type", "text/javascript; charset=utf-8")
	case ".css":
		h.Set("Content-Type", "text/css; charset=utf-8")
	}
	_, _ = w.Write(b)
}
