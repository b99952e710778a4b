package httpserver

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"
)

// Check reports whether one dependency is usable; nil means healthy.
type Check func(ctx context.Context) error

// Health serves /healthz (the process is alive) and /readyz (every dependency
// in checks answers). A failing check names itself but not its error detail,
// which goes to the log instead.
type Health struct {
	Checks map[string]Check
	Log    *slog.Logger
}

// Live answers 200 while the process serves HTTP.
func (h Health) Live(w http.ResponseWriter, _ *http.Request) {
	WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// Ready answers 200 when every check passes, else 503 listing the failures.
func (h Health) Ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	failed := map[string]string{}
	for name, check := range h.Checks {
		if err := check(ctx); err != nil {
			failed[name] = "unavailable"
			h.Log.WarnContext(ctx, "readiness check failed", "check", name, "err", err)
		}
	}
	if len(failed) > 0 {
		WriteJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "checks": failed})
		return
	}
	WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// WriteJSON sends v as a JSON response that no cache may store (responses
// carry patient data).
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	WriteJSONBody(w, status, v)
}

// WriteJSONBody sends v as JSON with the headers the caller already set
// (Content-Type defaults to application/json).
func WriteJSONBody(w http.ResponseWriter, status int, v any) {
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
