// Package static serves files embedded in the gateway (the staff console,
// the API reference) with their content type, cache policy and the
// Content-Security-Policy their page needs.
package static

import (
	"io/fs"
	"net/http"
	"path"

	"github.com/pms-dapr/pms/platform/problem"
)

var types = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
}

// Serve writes file name of files, or a 404 problem when it has none.
func Serve(w http.ResponseWriter, r *http.Request, files fs.FS, name, csp, cacheControl string) {
	b, err := fs.ReadFile(files, name)
	if err != nil {
		problem.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("Cache-Control", cacheControl)
	if t, ok := types[path.Ext(name)]; ok {
		h.Set("Content-Type", t)
	}
	_, _ = w.Write(b)
}
