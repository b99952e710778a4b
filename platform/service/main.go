package service

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/pms-dapr/pms/platform/appconfig"
	"github.com/pms-dapr/pms/platform/authn"
	"github.com/pms-dapr/pms/platform/httpserver"
	"github.com/pms-dapr/pms/platform/metrics"
	"github.com/pms-dapr/pms/platform/pgdb"
	"github.com/pms-dapr/pms/platform/tracing"
)

// App is a service's process as Main runs it.
type App[C any] struct {
	Command appconfig.Command // --help and the generated configuration reference
	// Database names the service's database for its migrate step (its
	// runtime group is <Database>_runtime), and Migrations are its
	// migrations; without them the service has no database.
	Database   string
	Migrations fs.FS
	// Run is the service's own work, with its configuration (loaded,
	// validated and logged, secrets masked), once Main has set up what
	// every service has (Process); it returns when ctx ends or on a
	// failure.
	Run func(ctx context.Context, cfg C, p *Process) error
}

// Process is what Main sets up before a service's own work.
type Process struct {
	Log *slog.Logger
	// DB is the service's pool as its runtime role, on a schema its
	// migrate step brought up to date (nil without a database).
	DB *pgxpool.Pool
	// Verifier checks users' access tokens (nil unless the configuration
	// holds an authn.ServiceConfig).
	Verifier *authn.Verifier
	// Health checks the database and the verifier's keys, as they exist.
	Health httpserver.Health
	// Metrics is served at METRICS_ADDR (a metrics.Config in the
	// configuration) once the service serves.
	Metrics *prometheus.Registry

	listenHost  string
	metricsAddr string
	tasks       []func(context.Context) error
}

// Main runs app as its command line says: `--help`, `migrate` (for a
// service with a database), or the service until SIGINT or SIGTERM. It
// exits the process with 1 on a failure.
func Main[C any](app App[C]) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	if appconfig.HandleHelp(os.Args, os.Stdout, app.Command) {
		stop()
		return
	}
	name := app.Command.App
	log := NewLogger(name)
	var err error
	if len(os.Args) > 1 && os.Args[1] == "migrate" && app.Migrations != nil {
		// The separate migration step, as the database owner.
		err = pgdb.MigrateCommand(ctx, log, app.Database, app.Migrations)
	} else {
		err = start(ctx, log, app)
	}
	stop()
	if err != nil {
		log.Error(name+" stopped with an error", "err", err)
		os.Exit(1)
	}
}

// start sets up the Process: configuration, profiling, the database, the
// token verifier, health and metrics; then runs the service.
func start[C any](ctx context.Context, log *slog.Logger, app App[C]) error {
	var cfg C
	if err := appconfig.Load(ctx, &cfg); err != nil {
		return err
	}
	log.Info("configuration", appconfig.LogAttrs(cfg)...)
	stopTracing, err := tracing.Start(ctx, app.Command.App)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = stopTracing(sctx) // the last spans; failing to send them does not fail the stop
	}()
	p := &Process{Log: log, Metrics: metrics.NewRegistry()}
	profiling, _ := appconfig.Part[Profiling](cfg)
	ProfileOnSignal(ctx, log, app.Command.App, profiling)
	metricsCfg, _ := appconfig.Part[metrics.Config](cfg)
	listen, _ := appconfig.Part[Listen](cfg)
	p.metricsAddr, p.listenHost = metricsCfg.Addr, listen.ListenHost
	checks := map[string]httpserver.Check{}
	if db, ok := appconfig.Part[pgdb.Config](cfg); ok && app.Migrations != nil {
		pool, err := pgdb.Connect(ctx, log, db, app.Migrations, time.Minute)
		if err != nil {
			return err
		}
		defer pool.Close()
		p.DB, checks["database"] = pool, pool.Ping
	}
	if trust, ok := appconfig.Part[authn.ServiceConfig](cfg); ok {
		sidecar, _ := appconfig.Part[Sidecar](cfg)
		v, err := authn.NewVerifierFor(ctx, sidecar.HTTP(), trust, log)
		if err != nil {
			return err
		}
		p.Verifier, checks["jwks"] = v, v.Ready
	}
	p.Health = httpserver.Health{Log: log, Checks: checks}
	if err := app.Run(ctx, cfg, p); err != nil {
		return fmt.Errorf("%s: %w", app.Command.App, err)
	}
	return nil
}

// Go adds a task that Serve runs beside the server until ctx ends; a task
// that fails stops the service.
func (p *Process) Go(task func(ctx context.Context) error) { p.tasks = append(p.tasks, task) }

// Serve serves the metrics (when configured, with h's requests counted and
// timed by route: metrics.HTTP), then h on host:port, and runs every task
// added with Go, until ctx ends or one of them fails.
func (p *Process) Serve(ctx context.Context, port string, h http.Handler) error {
	if p.metricsAddr != "" {
		var err error
		if h, err = metrics.HTTP(p.Metrics, h); err != nil {
			return err
		}
	}
	if err := metrics.Serve(ctx, p.Log, p.metricsAddr, p.Metrics); err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return httpserver.ListenAndServe(ctx, p.Log, net.JoinHostPort(p.listenHost, port), h) })
	for _, task := range p.tasks {
		g.Go(func() error { return task(ctx) })
	}
	return g.Wait()
}
