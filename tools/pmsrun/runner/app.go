package runner

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// stopGrace is how long an app or sidecar gets to shut down before it is
// killed; the services' own shutdown timeout is 10s.
const stopGrace = 12 * time.Second

// App is one app of the template with its sidecar.
type App struct {
	ID string
	// Ports of the app and of its sidecar.
	AppPort, HealthPort                   int
	DaprHTTPPort, DaprGRPCPort            int
	DaprInternalGRPCPort, DaprMetricsPort int
	// DaprProfilePort serves the sidecar's pprof endpoints on loopback
	// (Options.ProfileSidecars); 0 when they are off.
	DaprProfilePort int
	// LogDir holds app and sidecar logs: <appDirPath>/.dapr/logs.
	LogDir string
	// AppAPIToken is what the sidecar presents to the app; DaprAPIToken is
	// what the sidecar requires of callers of its API. Generated per run
	// unless the template sets them.
	AppAPIToken, DaprAPIToken string

	spec     AppTemplate
	database string // from the template's DATABASE_URL, if any
	sys      *System

	// configPath is the sidecar's Configuration as this run uses it (with
	// tracing to the runner's receiver), when it differs from the template's.
	configPath string

	mu         sync.Mutex
	app, daprd *proc
}

func (s *System) newApp(spec AppTemplate) (*App, error) {
	a := &App{ID: spec.AppID, spec: spec, sys: s, AppPort: spec.AppPort,
		LogDir: filepath.Join(spec.AppDirPath, ".dapr", "logs")}
	if err := lookCommand(spec.AppDirPath, spec.Command[0]); err != nil {
		return nil, fmt.Errorf("runner: %s: %w", a.ID, err)
	}
	a.HealthPort = a.AppPort
	if hp := spec.Env["HEALTH_PORT"]; hp != "" {
		if _, err := fmt.Sscan(hp, &a.HealthPort); err != nil {
			return nil, fmt.Errorf("runner: %s: HEALTH_PORT=%q: %w", a.ID, hp, err)
		}
	}
	a.AppAPIToken = or(spec.Env["APP_API_TOKEN"], RandomHex(32))
	a.DaprAPIToken = or(spec.Env["DAPR_API_TOKEN"], RandomHex(32))
	spec.Env["APP_API_TOKEN"], spec.Env["DAPR_API_TOKEN"] = a.AppAPIToken, a.DaprAPIToken
	if dbURL := spec.Env["DATABASE_URL"]; dbURL != "" {
		name, err := databaseName(dbURL)
		if err != nil {
			return nil, fmt.Errorf("runner: %s: DATABASE_URL: %w", a.ID, err)
		}
		a.database = name
	}
	var err error
	// Ports the template fixes must be free; the others are picked.
	if a.DaprHTTPPort, err = s.ports.want(spec.DaprHTTPPort, spec.DaprHTTPPort == 0); err != nil {
		return nil, fmt.Errorf("runner: %s: daprHTTPPort: %w", a.ID, err)
	}
	if a.DaprGRPCPort, err = s.ports.want(spec.DaprGRPCPort, spec.DaprGRPCPort == 0); err != nil {
		return nil, fmt.Errorf("runner: %s: daprGRPCPort: %w", a.ID, err)
	}
	if a.DaprInternalGRPCPort, err = s.ports.want(spec.DaprInternalGRPCPort, spec.DaprInternalGRPCPort == 0); err != nil {
		return nil, fmt.Errorf("runner: %s: daprInternalGRPCPort: %w", a.ID, err)
	}
	if a.DaprMetricsPort, err = s.ports.want(spec.MetricsPort, spec.MetricsPort == 0); err != nil {
		return nil, fmt.Errorf("runner: %s: metricsPort: %w", a.ID, err)
	}
	if s.opts.ProfileSidecars {
		// daprd serves pprof on the addresses its API listens on.
		if a.spec.APIListenAddresses != "127.0.0.1" {
			return nil, fmt.Errorf("runner: %s: sidecar profiling needs apiListenAddresses: 127.0.0.1 in the template", a.ID)
		}
		if a.DaprProfilePort, err = s.ports.want(0, true); err != nil {
			return nil, fmt.Errorf("runner: %s: profile port: %w", a.ID, err)
		}
	}
	for _, p := range []int{a.AppPort, a.HealthPort} {
		if p > 0 && !portFree(p) {
			return nil, fmt.Errorf("runner: %s: port %d is already in use (is another copy of the system running?)", a.ID, p)
		}
	}
	return a, nil
}

// appEnv is what the Dapr CLI gives an app: the caller's environment, the
// Dapr variables, then the template's env.
func (a *App) appEnv() []string {
	env := os.Environ()
	env = append(env,
		"APP_ID="+a.ID,
		"APP_PROTOCOL="+a.spec.AppProtocol,
		"APP_CHANNEL_ADDRESS="+a.spec.AppChannelAddress,
		"DAPR_HTTP_PORT="+strconv.Itoa(a.DaprHTTPPort),
		"DAPR_GRPC_PORT="+strconv.Itoa(a.DaprGRPCPort),
		"DAPR_METRICS_PORT="+strconv.Itoa(a.DaprMetricsPort),
	)
	if a.AppPort > 0 {
		env = append(env, "APP_PORT="+strconv.Itoa(a.AppPort))
	}
	if t := a.sys.Traces; t != nil {
		env = append(env, "OTEL_EXPORTER_OTLP_ENDPOINT=http://"+t.AppEndpoint)
	}
	return append(env, sortedEnv(a.spec.Env)...)
}

// daprdArgs are the flags the Dapr CLI passes to daprd for this app.
func (a *App) daprdArgs() []string {
	args := []string{a.sys.opts.Daprd,
		"--app-id", a.ID,
		"--app-protocol", a.spec.AppProtocol,
		"--app-channel-address", a.spec.AppChannelAddress,
		"--dapr-http-port", strconv.Itoa(a.DaprHTTPPort),
		"--dapr-grpc-port", strconv.Itoa(a.DaprGRPCPort),
		"--dapr-internal-grpc-port", strconv.Itoa(a.DaprInternalGRPCPort),
		"--metrics-port", strconv.Itoa(a.DaprMetricsPort),
		// Sidecar-to-sidecar calls and metrics stay on this machine.
		"--dapr-internal-grpc-listen-address", "127.0.0.1",
		"--metrics-listen-address", "127.0.0.1",
		"--log-level", a.spec.LogLevel,
	}
	if a.AppPort > 0 {
		args = append(args, "--app-port", strconv.Itoa(a.AppPort))
	}
	if a.spec.MaxBodySize != "" {
		args = append(args, "--max-body-size", a.spec.MaxBodySize)
	}
	// daprd serves pprof on its API listen addresses (loopback here).
	if a.DaprProfilePort > 0 {
		args = append(args, "--enable-profiling", "--profile-port", strconv.Itoa(a.DaprProfilePort))
	}
	if a.spec.APIListenAddresses != "" {
		args = append(args, "--dapr-listen-addresses", a.spec.APIListenAddresses)
	}
	for _, p := range a.spec.ResourcesPaths {
		args = append(args, "--resources-path", p)
	}
	if a.configPath != "" {
		args = append(args, "--config", a.configPath)
	} else if a.spec.ConfigFilePath != "" {
		args = append(args, "--config", a.spec.ConfigFilePath)
	}
	// Blank addresses are left out, as the Dapr CLI leaves them out: daprd
	// without the flag runs no placement or scheduler client.
	if p := a.spec.PlacementHostAddress; p != nil && strings.TrimSpace(*p) != "" {
		args = append(args, "--placement-host-address", *p)
	}
	if p := a.spec.SchedulerHostAddress; p != nil && strings.TrimSpace(*p) != "" {
		args = append(args, "--scheduler-host-address", *p)
	}
	if s := a.sys.Sentry; s != nil {
		args = append(args, "--enable-mtls", "--sentry-address", s.Address)
	}
	return args
}

// daprdEnv is the sidecar's environment: the app's, the Kafka brokers its
// components read, and the run's trust anchors when mTLS is on.
func (a *App) daprdEnv() []string {
	env := append(a.appEnv(), "KAFKA_BROKERS="+a.sys.KafkaBrokers)
	if s := a.sys.Sentry; s != nil {
		env = append(env, "DAPR_TRUST_ANCHORS="+string(s.TrustAnchors))
	}
	return env
}

// start launches the app, then its sidecar (which waits for the app port).
func (s *System) startApp(a *App) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	stamp := time.Now().Format("20060102150405")
	app, err := startProc(procSpec{
		name:    a.ID,
		dir:     a.spec.AppDirPath,
		argv:    a.spec.Command,
		env:     a.appEnv(),
		logFile: filepath.Join(a.LogDir, a.ID+"_app_"+stamp+".log"),
		out:     s.opts.Console,
		onLine:  s.noteLog(a.ID),
	})
	if err != nil {
		return fmt.Errorf("runner: %w", err)
	}
	daprd, err := startProc(procSpec{
		name:    a.ID + " daprd",
		dir:     a.spec.AppDirPath,
		argv:    a.daprdArgs(),
		env:     a.daprdEnv(),
		logFile: filepath.Join(a.LogDir, a.ID+"_daprd_"+stamp+".log"),
		out:     s.opts.Console,
	})
	if err != nil {
		app.stop(stopGrace)
		return fmt.Errorf("runner: %w", err)
	}
	a.app, a.daprd = app, daprd
	for _, p := range []*proc{app, daprd} {
		go func() {
			<-p.done
			if !p.stopping.Load() {
				select {
				case s.crashed <- p.crashReport():
				default:
				}
			}
		}()
	}
	return nil
}

// stop stops the app's sidecar and the app together.
func (a *App) stop() {
	a.mu.Lock()
	defer a.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range []*proc{a.daprd, a.app} {
		if p == nil {
			continue
		}
		p.stopping.Store(true)
		wg.Add(1)
		go func() { defer wg.Done(); p.stop(stopGrace) }()
	}
	wg.Wait()
}

func (a *App) appHealthURL() string {
	return fmt.Sprintf("http://127.0.0.1:%d/readyz", a.HealthPort)
}

func (a *App) sidecarHealthURL() string {
	return fmt.Sprintf("http://127.0.0.1:%d/v1.0/healthz", a.DaprHTTPPort)
}

// SidecarHTTP is the base URL of the sidecar's HTTP API.
func (a *App) SidecarHTTP() string { return fmt.Sprintf("http://127.0.0.1:%d", a.DaprHTTPPort) }

// SidecarGRPC is the host:port of the sidecar's gRPC API.
func (a *App) SidecarGRPC() string { return fmt.Sprintf("127.0.0.1:%d", a.DaprGRPCPort) }

// Running reports whether both the app and its sidecar are up.
func (a *App) Running() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.app != nil && !a.app.exited() && a.daprd != nil && !a.daprd.exited()
}

// DaprdPID is the process id of the app's sidecar, or 0 when it is not
// running.
func (a *App) DaprdPID() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return livePID(a.daprd)
}

// AppPID is the process id of the app (not its sidecar), or 0 when it is
// not running.
func (a *App) AppPID() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return livePID(a.app)
}

// livePID is p's process id while it runs, else 0.
func livePID(p *proc) int {
	if p == nil || p.exited() {
		return 0
	}
	return p.pid()
}

// migrate runs the app's migration step (its command with the argument
// `migrate`) against ownerURL and waits for it.
func (a *App) migrate(ctx context.Context, ownerURL string) error {
	argv := append(append([]string{}, a.spec.Command...), "migrate")
	name := argv[0]
	if strings.Contains(name, "/") && !filepath.IsAbs(name) {
		name = filepath.Join(a.spec.AppDirPath, name)
	}
	cmd := exec.CommandContext(ctx, name, argv[1:]...)
	cmd.Dir = a.spec.AppDirPath
	cmd.Env = append(a.appEnv(), "MIGRATE_DATABASE_URL="+ownerURL)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("runner: %s migrate: %w\n%s", a.ID, err, out)
	}
	return nil
}
