package runner

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pms-dapr/pms/platform/pgdb"
)

// Options configure a run. Zero values give the local defaults.
type Options struct {
	// Template is dapr.yaml or the directory holding it. Default ".".
	Template string
	// Daprd is the sidecar binary. Default <template dir>/bin/daprd.
	Daprd string
	// Sentry is Dapr's certificate authority binary. Default
	// <template dir>/bin/sentry. The runner starts it on loopback and every
	// sidecar talks mTLS with a certificate it issued.
	Sentry string
	// WithoutMTLS starts no Sentry and the sidecars without mTLS, so every
	// access-control policy falls back to its default action (deny). Only
	// for tests of the runner itself, whose fake sidecars need no
	// certificates; nothing else sets it.
	WithoutMTLS bool
	// Console receives every process's output, one prefixed line at a time.
	// Nil discards it (the per-app log files are written either way).
	Console io.Writer
	// PostgresURL points at an existing server (admin URL); the runner then
	// creates the apps' databases there instead of starting its own cluster.
	PostgresURL string
	// DurablePostgres starts the throwaway cluster with PostgreSQL's crash
	// safety on (fsync, synchronous commit), as a benchmark needs.
	DurablePostgres bool
	// PostgresBackups gives the throwaway cluster a pgBackRest repository
	// (Postgres.Backup, Postgres.RestoreLatest), as the scale benchmark
	// needs. Needs pgBackRest.
	PostgresBackups bool
	// ProfileSidecars turns on every sidecar's pprof endpoints
	// (--enable-profiling, on a picked loopback port: App.DaprProfilePort).
	// For benchmarks only.
	ProfileSidecars bool
	// KafkaBrokers points at an existing Kafka; empty starts the dev broker.
	KafkaBrokers string
	// DataDir holds the throwaway cluster. Default <template dir>/.data.
	DataDir string
	// ReadyTimeout bounds the wait for every app and sidecar. Default 2m.
	ReadyTimeout time.Duration
	// NoTracing runs without traces: no receiver, the apps export none and
	// the sidecars keep their Configuration's sampling rate ("0"). The
	// benchmark's cost phases use it.
	NoTracing bool
	// NoPrometheus starts no Prometheus even when one is installed.
	NoPrometheus bool
	// AlertRules are the rule files Prometheus loads. Default the
	// project's (AlertRules); tests pass copies with shorter waits.
	AlertRules []string
	// TraceViewPort is where the trace view and its API listen on loopback
	// (another free port when it is taken). Default 16686, Jaeger's.
	TraceViewPort int
	// DependenciesOnly starts what the apps need but not the apps: the
	// databases (provisioned and migrated), the Kafka broker and Sentry,
	// each on its fixed port (PostgreSQL 5432, Kafka 9092, Sentry 50001)
	// or not at all, for the Dapr CLI, which expects them there.
	DependenciesOnly bool
}

// System is a running stack.
type System struct {
	opts     Options
	tmpl     *Template
	ports    *PortPicker
	Postgres *Postgres // nil when PostgresURL was given
	Kafka    *DevKafka // nil when KafkaBrokers was given
	Sentry   *Sentry   // nil only WithoutMTLS
	Traces   *Traces   // nil with NoTracing
	// Prometheus is nil when none is installed (or NoPrometheus).
	Prometheus *Prometheus

	// PostgresURL and KafkaBrokers are what the apps were given.
	PostgresURL  string
	KafkaBrokers string
	// AdminEmail is the bootstrap admin the template names; AdminPassword
	// is its password when the runner generated it (empty otherwise).
	AdminEmail, AdminPassword string

	apps    []*App
	crashed chan error
	stop    sync.Once
}

// Start brings the whole stack up and returns once every app and sidecar is
// healthy. On any failure it stops what it started and returns the error.
func Start(ctx context.Context, opts Options) (sys *System, err error) {
	tmpl, err := LoadTemplate(or(opts.Template, "."))
	if err != nil {
		return nil, err
	}
	opts.Daprd = or(opts.Daprd, filepath.Join(tmpl.Dir(), "bin", "daprd"))
	opts.Sentry = or(opts.Sentry, filepath.Join(tmpl.Dir(), "bin", "sentry"))
	opts.DataDir = or(opts.DataDir, filepath.Join(tmpl.Dir(), ".data"))
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = 2 * time.Minute
	}
	if opts.Console == nil {
		opts.Console = io.Discard
	}
	if _, err := os.Stat(opts.Daprd); err != nil {
		return nil, fmt.Errorf("runner: daprd not found at %s (build it with `make daprd`): %w", opts.Daprd, err)
	}
	if _, err := os.Stat(opts.Sentry); err != nil && !opts.WithoutMTLS {
		return nil, fmt.Errorf("runner: sentry not found at %s (build it with `make daprd`): %w", opts.Sentry, err)
	}
	s := &System{opts: opts, tmpl: tmpl, ports: NewPortPicker(), crashed: make(chan error, 16)}
	s.ports.strict = opts.DependenciesOnly
	defer func() {
		if err != nil {
			s.Stop()
			sys = nil
		}
	}()
	for i := range tmpl.Apps {
		spec := tmpl.resolved(i)
		s.bootstrapAdmin(spec.Env)
		a, err := s.newApp(spec)
		if err != nil {
			return s, err
		}
		s.apps = append(s.apps, a)
	}
	if err := s.startDependencies(ctx); err != nil {
		return s, err
	}
	if opts.DependenciesOnly {
		return s, s.writeAdminPassword()
	}
	if err := s.writeRunSecrets(); err != nil {
		return s, err
	}
	if err := s.startTraces(); err != nil {
		return s, err
	}
	for _, a := range s.apps {
		if err := s.startApp(a); err != nil {
			return s, err
		}
	}
	if err := s.waitReady(ctx, s.apps); err != nil {
		return s, err
	}
	return s, s.startPrometheus(ctx)
}

// bootstrapAdmin generates the development admin's password when the
// template names an admin (AUTH_BOOTSTRAP_ADMIN_EMAIL) but neither it nor
// the caller's environment gives a password. It is shown once, in the
// run's summary, and lives only as long as the throwaway database.
func (s *System) bootstrapAdmin(env map[string]string) {
	email := env["AUTH_BOOTSTRAP_ADMIN_EMAIL"]
	if email == "" {
		return
	}
	s.AdminEmail = email
	if env["AUTH_BOOTSTRAP_ADMIN_PASSWORD"] != "" {
		return
	}
	if pw := os.Getenv("AUTH_BOOTSTRAP_ADMIN_PASSWORD"); pw != "" {
		env["AUTH_BOOTSTRAP_ADMIN_PASSWORD"] = pw
		return
	}
	s.AdminPassword = RandomHex(12)
	env["AUTH_BOOTSTRAP_ADMIN_PASSWORD"] = s.AdminPassword
}

// AdminPasswordFile holds the generated admin password while the run
// lasts (mode 0600, removed on Stop), so scripts can log in.
func (s *System) AdminPasswordFile() string { return filepath.Join(s.opts.DataDir, "admin-password") }

// TokensFile holds each sidecar's Dapr API token while the run lasts (mode
// 0600, removed on Stop), for calling a sidecar by hand (grpc-requests/).
func (s *System) TokensFile() string { return filepath.Join(s.opts.DataDir, "dapr-api-tokens.env") }

// writeRunSecrets writes AdminPasswordFile and TokensFile.
func (s *System) writeRunSecrets() error {
	if err := os.MkdirAll(s.opts.DataDir, 0o755); err != nil {
		return fmt.Errorf("runner: %w", err)
	}
	var tokens strings.Builder
	for _, a := range s.apps {
		name := strings.ToUpper(strings.ReplaceAll(a.ID, "-", "_"))
		fmt.Fprintf(&tokens, "%s_DAPR_API_TOKEN=%s\n", name, a.DaprAPIToken)
	}
	if err := os.WriteFile(s.TokensFile(), []byte(tokens.String()), 0o600); err != nil {
		return fmt.Errorf("runner: tokens file: %w", err)
	}
	return s.writeAdminPassword()
}

// writeAdminPassword writes AdminPasswordFile when the runner generated
// the password.
func (s *System) writeAdminPassword() error {
	if err := os.MkdirAll(s.opts.DataDir, 0o755); err != nil {
		return fmt.Errorf("runner: %w", err)
	}
	if s.AdminPassword == "" {
		return nil
	}
	if err := os.WriteFile(s.AdminPasswordFile(), []byte(s.AdminPassword+"\n"), 0o600); err != nil {
		return fmt.Errorf("runner: admin password file: %w", err)
	}
	return nil
}

// startDependencies starts (or connects to) PostgreSQL and Kafka, and
// provisions and migrates each app's database on that server.
func (s *System) startDependencies(ctx context.Context) error {
	s.PostgresURL = s.opts.PostgresURL
	if s.PostgresURL == "" {
		pg, err := StartPostgres(ctx, s.opts.DataDir, s.ports, s.opts.DurablePostgres, s.opts.PostgresBackups, s.opts.Console)
		if err != nil {
			return err
		}
		s.Postgres, s.PostgresURL = pg, pg.URL
	}
	for _, a := range s.apps {
		if a.database == "" {
			continue
		}
		if err := s.provisionDatabase(ctx, a); err != nil {
			return err
		}
	}
	s.KafkaBrokers = s.opts.KafkaBrokers
	if s.KafkaBrokers == "" {
		k, err := StartDevKafka(s.ports)
		if err != nil {
			return err
		}
		s.Kafka, s.KafkaBrokers = k, k.Brokers
	}
	if !s.opts.WithoutMTLS {
		config := filepath.Join(s.tmpl.Dir(), "dapr", "config", "daprsystem.yaml")
		sentry, err := StartSentry(ctx, s.opts.Sentry, config, s.opts.DataDir, s.ports, s.opts.Console)
		if err != nil {
			return err
		}
		s.Sentry = sentry
	}
	return nil
}

// Apps lists the running apps in template order.
func (s *System) Apps() []*App { return s.apps }

// App returns the app with id, or nil.
func (s *System) App(id string) *App {
	for _, a := range s.apps {
		if a.ID == id {
			return a
		}
	}
	return nil
}

// Crashed delivers a report for each app or sidecar that exits without
// being asked to, with its last log lines.
func (s *System) Crashed() <-chan error { return s.crashed }

// StopApp stops one app and its sidecar (as an operator or a failure
// would); it is not reported as a crash.
func (s *System) StopApp(id string) error {
	a := s.App(id)
	if a == nil {
		return fmt.Errorf("runner: no app %q", id)
	}
	a.stop()
	return nil
}

// StartApp starts a stopped app and its sidecar again on the same ports
// without waiting for them to become healthy.
func (s *System) StartApp(id string) error {
	a := s.App(id)
	if a == nil {
		return fmt.Errorf("runner: no app %q", id)
	}
	a.stop()
	return s.startApp(a)
}

// SetAppEnv sets (or, with value "", removes) a variable of app id's
// environment from its next start on, as an operator changing a
// deployment's configuration would.
func (s *System) SetAppEnv(id, key, value string) error {
	a := s.App(id)
	if a == nil {
		return fmt.Errorf("runner: no app %q", id)
	}
	if value == "" {
		delete(a.spec.Env, key)
	} else {
		a.spec.Env[key] = value
	}
	return nil
}

// WaitReady waits until the named apps and their sidecars are healthy.
func (s *System) WaitReady(ctx context.Context, ids ...string) error {
	apps := make([]*App, 0, len(ids))
	for _, id := range ids {
		a := s.App(id)
		if a == nil {
			return fmt.Errorf("runner: no app %q", id)
		}
		apps = append(apps, a)
	}
	return s.waitReady(ctx, apps)
}

// RestartApp starts a stopped app and its sidecar again on the same ports
// and waits until both are healthy.
func (s *System) RestartApp(ctx context.Context, id string) error {
	if err := s.StartApp(id); err != nil {
		return err
	}
	return s.WaitReady(ctx, id)
}

// Root is the directory of the template (the repository root).
func (s *System) Root() string { return s.tmpl.Dir() }

// PIDs lists every process the run started that should be gone after Stop:
// apps, sidecars, Sentry, Prometheus and the PostgreSQL server.
func (s *System) PIDs() []int {
	var pids []int
	for _, a := range s.apps {
		for _, p := range []*proc{a.app, a.daprd} {
			if p != nil {
				pids = append(pids, p.pid())
			}
		}
	}
	if s.Postgres != nil && s.Postgres.PID() != 0 {
		pids = append(pids, s.Postgres.PID())
	}
	if s.Sentry != nil {
		pids = append(pids, s.Sentry.PID())
	}
	if s.Prometheus != nil {
		pids = append(pids, s.Prometheus.proc.pid())
	}
	return pids
}

// Stop stops every app and sidecar (in parallel, each given time to finish
// in-flight work), then the broker and the database. Safe to call twice.
func (s *System) Stop() {
	s.stop.Do(func() {
		var wg sync.WaitGroup
		for _, a := range s.apps {
			wg.Add(1)
			go func() { defer wg.Done(); a.stop() }()
		}
		wg.Wait()
		if s.Kafka != nil {
			s.Kafka.Stop()
		}
		if s.Sentry != nil {
			s.Sentry.Stop()
		}
		if s.Traces != nil {
			s.Traces.Stop()
		}
		if s.Prometheus != nil {
			s.Prometheus.proc.stop(stopGrace)
		}
		if s.Postgres != nil {
			s.Postgres.Stop()
		}
		os.Remove(s.AdminPasswordFile())
		os.Remove(s.TokensFile())
	})
}

// waitReady polls each app's /readyz and its sidecar's /v1.0/healthz until
// all answer healthy, an app crashes, or the ready timeout passes.
func (s *System) waitReady(ctx context.Context, apps []*App) error {
	deadline := time.Now().Add(s.opts.ReadyTimeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		var waiting []string
		for _, a := range apps {
			for _, p := range []*proc{a.app, a.daprd} {
				if p.exited() {
					return p.crashReport()
				}
			}
			if !healthy(ctx, client, a.appHealthURL(), http.StatusOK) {
				waiting = append(waiting, a.ID)
			}
			if !healthy(ctx, client, a.sidecarHealthURL(), http.StatusNoContent) {
				waiting = append(waiting, a.ID+" sidecar")
			}
		}
		if len(waiting) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("runner: not healthy after %s: %s (see the logs under each app's .dapr/logs)",
				s.opts.ReadyTimeout, strings.Join(waiting, ", "))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func healthy(ctx context.Context, c *http.Client, url string, want int) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == want
}

// sortedEnv renders m as KEY=value lines in a stable order.
func sortedEnv(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// lookCommand checks that an app's command can be started, so a missing
// build fails with a hint instead of a crash report.
func lookCommand(dir, name string) error {
	if strings.Contains(name, "/") {
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%s not found (build the apps with `make build`)", p)
		}
		return nil
	}
	if _, err := exec.LookPath(name); err != nil {
		return fmt.Errorf("%s not on PATH: %w", name, err)
	}
	return nil
}

// provisionDatabase gives app a its own database on the server as a
// deployment would have it (pgdb.Provision, with passwords generated for
// this run), runs the app's migration step as the database's owner, and
// points the app's DATABASE_URL at its runtime login: the running app never
// holds the owner's password.
func (s *System) provisionDatabase(ctx context.Context, a *App) error {
	plan := pgdb.Plan{Database: a.database, Roles: pgdb.RolesFor(a.database),
		OwnerPassword: RandomHex(16), AppPassword: RandomHex(16)}
	if err := pgdb.Provision(ctx, s.PostgresURL, plan); err != nil {
		return fmt.Errorf("runner: %s: %w", a.ID, err)
	}
	owner, err := pgdb.LoginURL(s.PostgresURL, plan.Database, plan.Owner, plan.OwnerPassword)
	if err != nil {
		return err
	}
	if err := a.migrate(ctx, owner); err != nil {
		return err
	}
	a.spec.Env["DATABASE_URL"], err = pgdb.LoginURL(s.PostgresURL, plan.Database, plan.App, plan.AppPassword)
	return err
}

// startTraces starts the trace receiver and view (unless NoTracing) and
// writes each sidecar a Configuration that exports every span to it.
func (s *System) startTraces() error {
	if s.opts.NoTracing {
		return nil
	}
	port := s.opts.TraceViewPort
	if port == 0 {
		port = 16686
	}
	t, err := StartTraces(s.ports, port)
	if err != nil {
		return err
	}
	s.Traces = t
	for _, a := range s.apps {
		if a.spec.ConfigFilePath == "" {
			continue
		}
		if a.configPath, err = tracedConfig(a.spec.ConfigFilePath, filepath.Join(s.opts.DataDir, "dapr-config"), t.SidecarEndpoint); err != nil {
			return fmt.Errorf("runner: %s: %w", a.ID, err)
		}
	}
	return nil
}

// noteLog hands an app's log lines to the trace store, when there is one.
func (s *System) noteLog(app string) func(string) {
	return func(line string) {
		if s.Traces != nil {
			s.Traces.noteLog(app, line)
		}
	}
}
