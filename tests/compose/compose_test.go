// The compose tests run docker-compose.yml for real: they build the images
// from the Dockerfile, brings the stack up through testcontainers-go's
// compose module (the docker compose v2 engine) on Docker or podman, walks
// it as a client, stops and starts billing-service, and tears it all down.
//
// Images come from the same variables a user sets (GO_IMAGE, RUNTIME_IMAGE,
// POSTGRES_IMAGE, KAFKA_IMAGE, DAPRD_IMAGE, SENTRY_IMAGE); unset, they are
// the official ones. `make test-compose` sets them to the images `make
// images` builds offline, with the project's Kafka-protocol dev broker
// standing in for Kafka (devbroker.yml gives it a health check that does
// not need Kafka's scripts).
package compose_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/testcontainers/testcontainers-go"
	tcexec "github.com/testcontainers/testcontainers-go/exec"
	tc "github.com/testcontainers/testcontainers-go/modules/compose"
	"github.com/testcontainers/testcontainers-go/wait"
)

// imageVars are the variables docker-compose.yml takes its images from.
var imageVars = []string{"GO_IMAGE", "RUNTIME_IMAGE", "POSTGRES_IMAGE", "KAFKA_IMAGE", "DAPRD_IMAGE", "SENTRY_IMAGE", "TRACES_IMAGE", "PROMETHEUS_IMAGE"}

var appServices = []string{"api-gateway", "auth-service", "patient-service", "billing-service", "analytics-service"}

func TestComposeStack(t *testing.T) {
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	eng := newEngine(t)
	ctx := context.Background()

	env, files := stackConfig(t, root)
	project := fmt.Sprintf("pmstest%d", time.Now().UnixNano()%1_000_000)
	stack, err := tc.NewDockerComposeWith(tc.WithStackFiles(files...), tc.StackIdentifier(project))
	require.NoError(t, err)
	stack.WithEnv(env)

	buildImages(t, root, files, env)

	checks, stopChecks := context.WithCancel(ctx)
	go eng.runHealthChecks(checks, project, 2*time.Second)
	t.Cleanup(func() {
		stopChecks()
		if t.Failed() {
			report(t, eng, project)
		}
		require.NoError(t, stack.Down(context.Background(), tc.RemoveOrphans(true), tc.RemoveVolumes(true)))
		left, err := eng.projectContainers(context.Background(), project)
		require.NoError(t, err)
		assert.Empty(t, left, "compose down leaves no container behind")
	})

	up, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	require.NoError(t, stack.Up(up), "compose up")

	gw := gateway{base: "http://127.0.0.1:" + env["GATEWAY_PORT"], t: t}
	eventually(t, 3*time.Minute, "the gateway is ready", func() error {
		return gw.ready()
	})

	t.Run("only the gateway, the trace view, Prometheus and the dev database are published, on loopback", func(t *testing.T) {
		cs, err := eng.projectContainers(ctx, project)
		require.NoError(t, err)
		// Containers sharing a network namespace (an app and its sidecar)
		// report its bindings alike: count each binding once, by its owner.
		owners := map[string][]string{}
		for _, c := range cs {
			for _, p := range c.Published {
				owners[p] = append(owners[p], c.Service)
			}
		}
		gw := "127.0.0.1:" + env["GATEWAY_PORT"] + "->4004"
		pg := "127.0.0.1:" + env["POSTGRES_PORT"] + "->5432"
		tr := "127.0.0.1:" + env["TRACES_PORT"] + "->16686"
		pr := "127.0.0.1:" + env["PROMETHEUS_PORT"] + "->9090"
		published := slices.Sorted(maps.Keys(owners))
		assert.ElementsMatch(t, []string{gw, pg, tr, pr}, published)
		assert.ElementsMatch(t, []string{"api-gateway", "api-gateway-dapr"}, owners[gw], "the gateway's namespace")
		assert.Equal(t, []string{"postgres"}, owners[pg])
		assert.Equal(t, []string{"traces"}, owners[tr])
		assert.Equal(t, []string{"prometheus"}, owners[pr])
	})

	t.Run("every app's image health check passes", func(t *testing.T) {
		for _, svc := range appServices {
			c, err := stack.ServiceContainer(ctx, svc)
			require.NoError(t, err, svc)
			eventually(t, time.Minute, svc+" is healthy", func() error {
				h, err := eng.health(ctx, c.GetContainerID())
				if err != nil {
					return err
				}
				if h != "healthy" {
					return fmt.Errorf("health %q", h)
				}
				return nil
			})
		}
	})

	gw.login(env["AUTH_BOOTSTRAP_ADMIN_EMAIL"], env["AUTH_BOOTSTRAP_ADMIN_PASSWORD"])

	t.Run("register, read back with its billing account, counted by analytics", func(t *testing.T) {
		before := gw.summary().TotalPatientsCreated
		created := gw.register("Ada Compose")
		require.NotEmpty(t, created.BillingAccountID, "billing answered through the sidecars, so the account is in the response")
		got := gw.patient(created.ID)
		assert.Equal(t, created, got)
		eventually(t, time.Minute, "analytics counts the patient", func() error {
			if n := gw.summary().TotalPatientsCreated; n != before+1 {
				return fmt.Errorf("totalPatientsCreated = %d, want %d", n, before+1)
			}
			return nil
		})
	})

	t.Run("a sampled request is one trace in the trace store; Prometheus scrapes every app and sidecar", func(t *testing.T) {
		created := gw.register("Trace Compose")
		// One request in ten is sampled (the shipping rate): read until one is.
		var traceID string
		for i := 0; i < 200 && traceID == ""; i++ {
			traceID = gw.tracedGet("/patients/" + created.ID)
		}
		require.NotEmpty(t, traceID, "no read of 200 was sampled at one in ten")
		traces := "http://127.0.0.1:" + env["TRACES_PORT"]
		eventually(t, time.Minute, "the trace has the gateway's and patient-service's spans", func() error {
			var body struct {
				Data []struct {
					Spans []struct {
						OperationName string `json:"operationName"`
						ProcessID     string `json:"processID"`
					} `json:"spans"`
					Processes map[string]struct {
						ServiceName string `json:"serviceName"`
					} `json:"processes"`
				} `json:"data"`
			}
			if err := getJSON(traces+"/api/traces/"+traceID, &body); err != nil {
				return err
			}
			if len(body.Data) != 1 {
				return fmt.Errorf("%d traces", len(body.Data))
			}
			seen := map[string]bool{}
			for _, s := range body.Data[0].Spans {
				seen[body.Data[0].Processes[s.ProcessID].ServiceName+" "+s.OperationName] = true
			}
			for _, want := range []string{"api-gateway GET /patients/{id}", "patient-service GET /patients/{id}",
				"patient-service CallLocal/patient-service/patients/" + created.ID} {
				if !seen[want] {
					return fmt.Errorf("no span %q in %v", want, seen)
				}
			}
			return nil
		})
		prometheus := "http://127.0.0.1:" + env["PROMETHEUS_PORT"]
		eventually(t, 2*time.Minute, "every app and sidecar target is up", func() error {
			var body struct {
				Data struct {
					ActiveTargets []struct {
						Labels    map[string]string `json:"labels"`
						Health    string            `json:"health"`
						LastError string            `json:"lastError"`
					} `json:"activeTargets"`
				} `json:"data"`
			}
			if err := getJSON(prometheus+"/api/v1/targets", &body); err != nil {
				return err
			}
			up := 0
			for _, tg := range body.Data.ActiveTargets {
				if tg.Health != "up" {
					return fmt.Errorf("%s %s: %s %s", tg.Labels["job"], tg.Labels["app"], tg.Health, tg.LastError)
				}
				up++
			}
			if up != 2*len(appServices) {
				return fmt.Errorf("%d targets up, want %d", up, 2*len(appServices))
			}
			return nil
		})
	})

	t.Run("WAL is archived and a base backup taken, encrypted", func(t *testing.T) {
		backup, err := stack.ServiceContainer(ctx, "backup")
		require.NoError(t, err)
		var info []struct {
			Status  struct{ Code int }
			Cipher  string
			Backup  []struct{ Type string }
			Archive []struct{ Max string }
		}
		eventually(t, 2*time.Minute, "pgbackrest info shows a full backup and archived WAL", func() error {
			code, out, err := backup.Exec(ctx, []string{"pgbackrest", "info", "--output=json"}, tcexec.Multiplexed())
			if err != nil {
				return err
			}
			raw, _ := io.ReadAll(out)
			if code != 0 {
				return fmt.Errorf("exit %d: %s", code, raw)
			}
			if err := json.Unmarshal(raw, &info); err != nil {
				return fmt.Errorf("%w: %s", err, raw)
			}
			if len(info) != 1 || len(info[0].Backup) == 0 || len(info[0].Archive) == 0 || info[0].Archive[0].Max == "" {
				return fmt.Errorf("not yet: %s", raw)
			}
			return nil
		})
		assert.Equal(t, 0, info[0].Status.Code, "stanza ok")
		assert.Equal(t, "aes-256-cbc", info[0].Cipher)
		assert.Equal(t, "full", info[0].Backup[0].Type)
	})

	t.Run("a patient registered while billing-service is stopped gets an account once it is back", func(t *testing.T) {
		billing, err := stack.ServiceContainer(ctx, "billing-service")
		require.NoError(t, err)
		stop := 10 * time.Second
		require.NoError(t, billing.Stop(ctx, &stop))
		created := gw.register("Grace Compose")
		assert.Empty(t, created.BillingAccountID, "billing is stopped, so no account yet")

		require.NoError(t, billing.Start(ctx))
		eventually(t, 2*time.Minute, "the patient gets a billing account", func() error {
			if gw.patient(created.ID).BillingAccountID == "" {
				return fmt.Errorf("patient %s has no billingAccountId yet", created.ID)
			}
			return nil
		})
	})

	// docs/operations/compose.md's restore: PostgreSQL stopped, the backup
	// service's image restoring in place to T, PostgreSQL started again.
	t.Run("a restore to a time T brings back what was written before T only", func(t *testing.T) {
		pg, err := stack.ServiceContainer(ctx, "postgres")
		require.NoError(t, err)
		sql := func(query string) (string, error) {
			code, out, err := pg.Exec(ctx, []string{"psql", "-U", "postgres", "-Atc", query}, tcexec.Multiplexed())
			if err != nil {
				return "", err
			}
			raw, _ := io.ReadAll(out)
			if code != 0 {
				return "", fmt.Errorf("psql exit %d: %s", code, raw)
			}
			return strings.TrimSpace(string(raw)), nil
		}
		before := gw.register("Before T Compose")
		time.Sleep(1100 * time.Millisecond) // the full backup stopped before T
		target, err := sql(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'`)
		require.NoError(t, err)
		time.Sleep(100 * time.Millisecond)
		after := gw.register("After T Compose")
		segment, err := sql(`SELECT pg_walfile_name(pg_switch_wal())`)
		require.NoError(t, err)
		eventually(t, time.Minute, "the last WAL segment is archived", func() error {
			last, err := sql(`SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver`)
			if err != nil {
				return err
			}
			if last < segment {
				return fmt.Errorf("last archived %q, want %q", last, segment)
			}
			return nil
		})

		stop := 30 * time.Second
		for _, svc := range []string{"backup", "postgres"} {
			c, err := stack.ServiceContainer(ctx, svc)
			require.NoError(t, err)
			require.NoError(t, c.Stop(ctx, &stop), svc)
		}
		pgSvc := loadProject(t, root, files, env).Services["postgres"]
		restoreEnv := map[string]string{}
		for k, v := range pgSvc.Environment {
			if strings.HasPrefix(k, "PGBACKREST_") && v != nil {
				restoreEnv[k] = *v
			}
		}
		restore, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
			ContainerRequest: testcontainers.ContainerRequest{
				Image:      pgSvc.Image,
				User:       "postgres",
				Entrypoint: []string{"pgbackrest"},
				Cmd: []string{"--delta", "--type=time", "--target=" + target,
					"--target-action=promote", "restore"},
				Env: restoreEnv,
				Mounts: testcontainers.ContainerMounts{
					testcontainers.VolumeMount(project+"_pgdata", "/var/lib/postgresql/data"),
					testcontainers.VolumeMount(project+"_pgbackrest", "/var/lib/pgbackrest"),
				},
				WaitingFor: wait.ForExit().WithExitTimeout(2 * time.Minute),
			},
			Started: true,
		})
		require.NoError(t, err)
		state, err := restore.State(ctx)
		require.NoError(t, err)
		logs, _ := restore.Logs(ctx)
		out, _ := io.ReadAll(logs)
		require.NoError(t, restore.Terminate(ctx))
		require.Equal(t, 0, state.ExitCode, "pgbackrest restore: %s", out)

		for _, svc := range []string{"postgres", "backup"} {
			c, err := stack.ServiceContainer(ctx, svc)
			require.NoError(t, err)
			require.NoError(t, c.Start(ctx), svc)
		}
		eventually(t, 2*time.Minute, "the patient written before T is served again", func() error {
			status, raw, err := gw.do(http.MethodGet, "/patients/"+before.ID, nil)
			if err != nil || status != http.StatusOK {
				return fmt.Errorf("status %d, %v: %s", status, err, raw)
			}
			return nil
		})
		status, _, err := gw.do(http.MethodGet, "/patients/"+after.ID, nil)
		require.NoError(t, err)
		assert.Equal(t, http.StatusNotFound, status, "the patient written after T is not there")
	})
}

// stackConfig generates the stack's secrets with `pmsrun compose-init` into
// a directory of the test's (the user's .env and secrets/ are left alone),
// and returns the variables for Compose and the compose files to use.
func stackConfig(t *testing.T, root string) (map[string]string, []string) {
	t.Helper()
	pmsrun := filepath.Join(root, "bin", "pmsrun")
	dir := t.TempDir()
	cmd := exec.Command(pmsrun, "compose-init", "-env", filepath.Join(dir, ".env"), "-secrets", filepath.Join(dir, "secrets"))
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "pmsrun compose-init (build it with `make build`): %s", out)
	env, err := dotenv.GetEnvFromFile(map[string]string{}, []string{filepath.Join(dir, ".env")})
	require.NoError(t, err)
	env["GATEWAY_PORT"] = freePort(t)
	env["POSTGRES_PORT"] = freePort(t)
	env["TRACES_PORT"] = freePort(t)
	env["PROMETHEUS_PORT"] = freePort(t)
	files := []string{filepath.Join(root, "docker-compose.yml")}
	for _, v := range imageVars {
		if img := os.Getenv(v); img != "" {
			env[v] = img
		}
	}
	if env["KAFKA_IMAGE"] != "" {
		files = append(files, filepath.Join(root, "tests", "compose", "devbroker.yml"))
	}
	return env, files
}

// buildImages builds every image the stack builds, one after the other
// (the images share their compile step, which a concurrent build would
// repeat), from the services' build sections, so that `up` builds nothing
// and runs exactly these images.
func buildImages(t *testing.T, root string, files []string, env map[string]string) {
	t.Helper()
	project := loadProject(t, root, files, env)
	provider, err := testcontainers.NewDockerProvider()
	require.NoError(t, err)
	defer provider.Close()
	built := map[string]bool{}
	for _, name := range project.ServiceNames() {
		svc := project.Services[name]
		if svc.Build == nil || built[svc.Image] {
			continue
		}
		built[svc.Image] = true
		repo, tag, _ := strings.Cut(svc.Image, ":")
		args := map[string]*string{}
		for k, v := range svc.Build.Args {
			args[k] = v
		}
		start := time.Now()
		var log bytes.Buffer
		_, err := provider.BuildImage(context.Background(), &testcontainers.ContainerRequest{FromDockerfile: testcontainers.FromDockerfile{
			Context:        svc.Build.Context,
			Dockerfile:     svc.Build.Dockerfile,
			Repo:           repo,
			Tag:            tag,
			BuildArgs:      args,
			KeepImage:      true,
			BuildLogWriter: &log,
		}})
		require.NoError(t, err, "build %s: %s", svc.Image, tail(log.String(), 40))
		t.Logf("built %s in %s", svc.Image, time.Since(start).Round(time.Second))
	}
}

// report logs each container's state and the tail of its output.
func report(t *testing.T, eng *engine, project string) {
	ctx := context.Background()
	cs, err := eng.projectContainers(ctx, project)
	if err != nil {
		t.Logf("list containers: %v", err)
		return
	}
	for _, c := range cs {
		h, _ := eng.health(ctx, c.ID)
		t.Logf("=== %s (%s, health %q):\n%s", c.Service, c.State, h, eng.logs(ctx, c.ID))
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// eventually retries check until it passes or limit passes.
func eventually(t *testing.T, limit time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true within %s: %v", what, limit, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// gateway is a REST client of the gateway, as a user's would be.
type gateway struct {
	base  string
	token string
	t     *testing.T
}

type patient struct {
	ID               string `json:"id"`
	Name             string `json:"name"`
	Email            string `json:"email"`
	DateOfBirth      string `json:"dateOfBirth"`
	BillingAccountID string `json:"billingAccountId"`
	Version          int64  `json:"version"`
}

type summary struct {
	TotalPatientsCreated int64 `json:"totalPatientsCreated"`
}

var httpClient = &http.Client{Timeout: 30 * time.Second}

func (c *gateway) do(method, path string, body any) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.base+path, r)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// tracedGet GETs path and returns the trace id the gateway answered in
// Traceresponse ("" when the request was not sampled).
func (c *gateway) tracedGet(path string) string {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.base+path, nil)
	require.NoError(c.t, err)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := httpClient.Do(req)
	require.NoError(c.t, err)
	resp.Body.Close()
	require.Equal(c.t, http.StatusOK, resp.StatusCode)
	if parts := strings.Split(resp.Header.Get("Traceresponse"), "-"); len(parts) == 4 {
		return parts[1]
	}
	return ""
}

// getJSON decodes what url answers (200) into v.
func getJSON(url string, v any) error {
	resp, err := httpClient.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func (c *gateway) ready() error {
	status, body, err := c.do(http.MethodGet, "/readyz", nil)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("readyz: %d %s", status, body)
	}
	return nil
}

func (c *gateway) login(email, password string) {
	var s struct {
		AccessToken string `json:"accessToken"`
	}
	eventually(c.t, time.Minute, "the admin logs in", func() error {
		status, body, err := c.do(http.MethodPost, "/auth/login", map[string]string{"email": email, "password": password})
		if err != nil {
			return err
		}
		if status != http.StatusOK {
			return fmt.Errorf("login: %d %s", status, body)
		}
		return json.Unmarshal(body, &s)
	})
	c.token = s.AccessToken
}

func (c *gateway) register(name string) patient {
	c.t.Helper()
	body := map[string]string{
		"name":        name,
		"email":       fmt.Sprintf("%s.%d@example.com", strings.ToLower(strings.ReplaceAll(name, " ", ".")), time.Now().UnixNano()),
		"address":     "1 Compose Street, Springfield",
		"dateOfBirth": "1980-02-29",
	}
	status, raw, err := c.do(http.MethodPost, "/patients", body)
	require.NoError(c.t, err)
	require.Equal(c.t, http.StatusCreated, status, "register: %s", raw)
	var p patient
	require.NoError(c.t, json.Unmarshal(raw, &p))
	assert.Equal(c.t, name, p.Name)
	return p
}

func (c *gateway) patient(id string) patient {
	c.t.Helper()
	status, raw, err := c.do(http.MethodGet, "/patients/"+id, nil)
	require.NoError(c.t, err)
	require.Equal(c.t, http.StatusOK, status, "read %s: %s", id, raw)
	var p patient
	require.NoError(c.t, json.Unmarshal(raw, &p))
	return p
}

func (c *gateway) summary() summary {
	c.t.Helper()
	status, raw, err := c.do(http.MethodGet, "/analytics/summary", nil)
	require.NoError(c.t, err)
	require.Equal(c.t, http.StatusOK, status, "summary: %s", raw)
	var s summary
	require.NoError(c.t, json.Unmarshal(raw, &s))
	return s
}

// loadProject loads the stack as Compose does, with env.
func loadProject(t *testing.T, root string, files []string, env map[string]string) *types.Project {
	t.Helper()
	var envList []string
	for k, v := range env {
		envList = append(envList, k+"="+v)
	}
	opts, err := cli.NewProjectOptions(files, cli.WithWorkingDirectory(root), cli.WithEnv(envList), cli.WithName("pms"))
	require.NoError(t, err)
	p, err := cli.ProjectFromOptions(context.Background(), opts)
	require.NoError(t, err, "docker-compose.yml loads")
	return p
}
