package gateway

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/pms-dapr/pms/platform/authn"
	"github.com/pms-dapr/pms/platform/clientaddr"
)

// The gateway is where every request is checked for its token and role,
// so it is where those refusals are audited: the apps never see them (and
// audit what they refuse themselves). Each refusal is one log line,
// "msg":"audit" with "action":"refused", naming why (token or role), the
// route (its pattern: no ids), the caller as far as it is known, and the
// request id, like patient-service's audit lines (docs/security.md).

// checked is what the gateway learned of a request while checking it.
type checked struct {
	id            authn.Identity
	authenticated bool // the token was valid
	roleRefused   bool // allow refused the role
}

type checkedKey struct{}

// auditedAuth wraps auth (the token check) so that a request refused for
// its token (401), or then for its role (403, by allow), is audited.
func auditedAuth(log *slog.Logger, clients clientaddr.Proxies, auth func(http.Handler) http.Handler) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		inner := auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if c, ok := r.Context().Value(checkedKey{}).(*checked); ok {
				c.id, c.authenticated = authn.FromContext(r.Context())
			}
			next.ServeHTTP(w, r)
		}))
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c := &checked{}
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			inner.ServeHTTP(ww, r.WithContext(context.WithValue(r.Context(), checkedKey{}, c)))
			var reason string
			switch {
			case ww.Status() == http.StatusUnauthorized && !c.authenticated:
				reason = "token"
			case ww.Status() == http.StatusForbidden && c.roleRefused:
				reason = "role"
			default:
				return
			}
			route := r.URL.Path
			if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
				route = rc.RoutePattern()
			}
			log.InfoContext(r.Context(), "audit", "action", "refused", "reason", reason, "status", ww.Status(),
				"method", r.Method, "route", route, "user", c.id.Subject, "email", c.id.Email, "role", c.id.Role,
				"client", clients.Resolve(r))
		})
	}
}

// noteRoleRefused marks r's audit record: allow refused its role.
func noteRoleRefused(r *http.Request) {
	if c, ok := r.Context().Value(checkedKey{}).(*checked); ok {
		c.roleRefused = true
	}
}
