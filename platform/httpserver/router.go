package httpserver

import (
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/pms-dapr/pms/platform/authn"
	"github.com/pms-dapr/pms/platform/problem"
	"github.com/pms-dapr/pms/platform/requestid"
	"github.com/pms-dapr/pms/platform/tracing"
)

// The health routes every service serves; probes (the kubelet's, the
// sidecar's) carry no app API token.
const (
	LivePath  = "/healthz"
	ReadyPath = "/readyz"
)

// Router is the skeleton of a service's HTTP API behind its Dapr sidecar:
// every request is traced (as a child of its caller's trace), gets an id
// and an access-log line and a panic is answered
// 500; the health routes are open; every other route, and any unknown
// path, answers only a request carrying the app API token (requests that
// came through the sidecar). The more middlewares run after those, on
// every route but health. Routes added to the returned router are served
// behind all of it; unknown paths and methods answer problem+json.
func Router(log *slog.Logger, appToken string, health Health, more ...func(http.Handler) http.Handler) *chi.Mux {
	r := chi.NewRouter()
	r.Use(tracing.Middleware, requestid.Middleware, AccessLog(log), middleware.Recoverer)
	guarded := append([]func(http.Handler) http.Handler{authn.RequireAppToken(appToken)}, more...)
	r.Use(exceptHealth(chi.Chain(guarded...).Handler))
	r.Get(LivePath, health.Live)
	r.Get(ReadyPath, health.Ready)
	r.NotFound(problem.NotFound)
	r.MethodNotAllowed(problem.MethodNotAllowed)
	return r
}

// exceptHealth applies guard to every request but a GET of a health route.
func exceptHealth(guard func(http.Handler) http.Handler) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		guarded := guard(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && (r.URL.Path == LivePath || r.URL.Path == ReadyPath) {
				next.ServeHTTP(w, r)
				return
			}
			guarded.ServeHTTP(w, r)
		})
	}
}

// Handler serves the health routes alone (a service whose API is not HTTP
// serves them on a port of their own).
func (h Health) Handler() http.Handler {
	r := chi.NewRouter()
	r.Get(LivePath, h.Live)
	r.Get(ReadyPath, h.Ready)
	return r
}
