// Command auth-service will issue and verify the system's access tokens.
//
// For now it only starts, connects to its database and reports health, so
// the local stack and its sidecar are complete: it serves no login yet, and
// the gateway routes nothing to it. Identity and token issuing are the next
// piece of work (see README "Status").
package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/pms-dapr/pms/platform/pgdb"
	"github.com/pms-dapr/pms/platform/service"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := service.NewLogger("auth-service")
	if err := run(ctx, log); err != nil {
		log.Error("auth-service stopped with an error", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger) error {
	port := service.Env("APP_PORT", "4005")
	dbURL := service.Env("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/auth?sslmode=disable")
	pool, err := pgdb.Open(ctx, log, dbURL, 30*time.Second)
	if err != nil {
		return err
	}
	defer pool.Close()
	health := service.Health{Log: log, Checks: map[string]service.Check{"database": pool.Ping}}
	r := chi.NewRouter()
	r.Use(service.RequestIDs, service.AccessLog(log))
	r.Get("/healthz", health.Live)
	r.Get("/readyz", health.Ready)
	return service.ListenAndServe(ctx, log, ":"+port, r)
}
