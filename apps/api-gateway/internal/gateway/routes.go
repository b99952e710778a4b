package gateway

import (
	"log/slog"
	"net/http"
	"net/url"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/pms-dapr/pms/platform/problem"
	"github.com/pms-dapr/pms/platform/service"
)

// Targets names the Dapr app behind each group of public routes.
type Targets struct {
	Patients  string // app id serving /patients
	Analytics string // app id serving /analytics
}

// Routes returns the gateway's router. Only the listed paths are forwarded;
// anything else is answered 404 here and never reaches an internal app.
func Routes(sidecar *url.URL, t Targets, health service.Health, log *slog.Logger) http.Handler {
	r := chi.NewRouter()
	r.Use(service.RequestIDs, service.AccessLog(log), middleware.Recoverer)
	r.Get("/healthz", health.Live)
	r.Get("/readyz", health.Ready)

	patients := NewProxy(sidecar, t.Patients, log)
	r.Handle("/patients", patients)
	r.Handle("/patients/*", patients)
	analytics := NewProxy(sidecar, t.Analytics, log)
	r.Handle("/analytics/*", analytics)

	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		problem.Write(w, r, problem.New(http.StatusNotFound, "No such resource."))
	})
	return r
}
