package gateway

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/pms-dapr/pms/platform/problem"
	"github.com/pms-dapr/pms/platform/validation"
)

// strictPaths refuses, with 400, any request path that is not already in
// canonical form: dot segments, empty segments (double or trailing
// slashes), a backslash, an encoded '/', '\' or '.', and control
// characters. Such a path names no route of the gateway, and forwarded as
// is it could name another one once a sidecar or app cleans it, so it is
// never routed, let alone forwarded.
func strictPaths(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := canonicalPath(r.URL); err != nil {
			problem.Write(w, r, problem.Validation([]problem.FieldError{{Field: "path", Message: err.Error()}}))
			return
		}
		next.ServeHTTP(w, r)
	})
}

var errPath = errors.New("must be a canonical path: no dot or empty segments, no backslashes, no encoded '/', '\\' or '.', no control characters")

func canonicalPath(u *url.URL) error {
	raw := u.EscapedPath()
	lower := strings.ToLower(raw)
	if raw == "/" {
		return nil
	}
	if !strings.HasPrefix(raw, "/") || strings.HasSuffix(raw, "/") || strings.Contains(raw, "//") ||
		strings.ContainsAny(raw, `\`) {
		return errPath
	}
	for _, enc := range []string{"%2f", "%5c", "%2e"} {
		if strings.Contains(lower, enc) {
			return errPath
		}
	}
	for _, seg := range strings.Split(u.Path[1:], "/") {
		if seg == "." || seg == ".." {
			return errPath
		}
	}
	for _, c := range u.Path {
		if c < 0x20 || c == 0x7f {
			return errPath
		}
	}
	return nil
}

// upstream names the app path a route forwards to, built only from
// validated parts of the request; ok is false when a path parameter cannot
// name anything (the answer is then 404 without a call).
type upstream func(r *http.Request) (path string, ok bool)

// fixed forwards to one path.
func fixed(path string) upstream {
	return func(*http.Request) (string, bool) { return path, true }
}

// withID forwards to prefix + the route's {id} (a UUID, in canonical
// lower-case form) + suffix.
func withID(prefix, suffix string) upstream {
	return func(r *http.Request) (string, bool) {
		id, err := uuid.Parse(chi.URLParam(r, "id"))
		if err != nil || len(chi.URLParam(r, "id")) != 36 {
			return "", false
		}
		return prefix + id.String() + suffix, true
	}
}

// canonicalQuery re-encodes a query string from its parsed values, so the
// app receives exactly what the gateway understood; a query that does not
// parse is refused.
func canonicalQuery(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	v, err := url.ParseQuery(raw)
	if err != nil {
		return "", validation.Field("query", "query", "must be a well-formed query string")
	}
	return v.Encode(), nil
}

// withVersion forwards to prefix + {id} (as withID) + infix + {vid}, a
// version number.
func withVersion(prefix, infix string) upstream {
	return func(r *http.Request) (string, bool) {
		path, ok := withID(prefix, infix)(r)
		vid := chi.URLParam(r, "vid")
		n, err := strconv.ParseInt(vid, 10, 64)
		if !ok || err != nil || n < 1 || strconv.FormatInt(n, 10) != vid {
			return "", false
		}
		return path + vid, true
	}
}
