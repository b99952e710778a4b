package deploy

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// Every base image is pinned by a tag (not latest), and the final stage
// runs as a non-root user with a HEALTHCHECK.
func TestDockerfilePinsBasesAndRunsAsNonRoot(t *testing.T) {
	f, err := os.Open(filepath.Join(root(t), "Dockerfile"))
	require.NoError(t, err)
	defer f.Close()
	res, err := parser.Parse(f)
	require.NoError(t, err)

	meta := dockerfileBaseArgs(t)
	var stages [][]string // instructions of each stage, as "cmd args"
	for _, n := range res.AST.Children {
		var args []string
		for a := n.Next; a != nil; a = a.Next {
			args = append(args, a.Value)
		}
		cmd := strings.ToLower(n.Value)
		line := cmd + " " + strings.Join(args, " ")
		if cmd == "from" {
			image := args[0]
			// A base given as a build argument is checked by its default.
			if name, ok := strings.CutPrefix(image, "${"); ok {
				image = meta[strings.TrimSuffix(name, "}")]
				require.NotEmpty(t, image, "%s: the build argument has a default", line)
			}
			name := image[strings.LastIndex(image, "/")+1:]
			_, tag, tagged := strings.Cut(name, ":")
			assert.True(t, tagged || strings.Contains(image, "@sha256:"), "base image %s has no tag", image)
			assert.NotEqual(t, "latest", tag, "base image %s is not pinned", image)
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			require.Equal(t, "arg", cmd, "only ARG comes before the first FROM: %s", line)
			continue
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], line)
	}
	require.GreaterOrEqual(t, len(stages), 2, "multi-stage build")
	final := stages[len(stages)-1]
	var user string
	healthcheck := false
	for _, l := range final {
		if u, ok := strings.CutPrefix(l, "user "); ok {
			user = u
		}
		healthcheck = healthcheck || strings.HasPrefix(l, "healthcheck ")
	}
	require.NotEmpty(t, user, "the final stage sets USER")
	name := strings.Split(user, ":")[0]
	assert.NotContains(t, []string{"root", "0"}, name, "the final stage runs as non-root")
	assert.True(t, healthcheck, "the final stage has a HEALTHCHECK")
	assert.FileExists(t, filepath.Join(root(t), ".dockerignore"))
}

// The image's Go builder is the toolchain everything else is built and
// vulnerability-checked with (the Makefile's GO_TOOLCHAIN).
func TestDockerfileBuildsWithTheProjectsToolchain(t *testing.T) {
	makefile, err := os.ReadFile(filepath.Join(root(t), "Makefile"))
	require.NoError(t, err)
	var toolchain string
	for _, line := range strings.Split(string(makefile), "\n") {
		if v, ok := strings.CutPrefix(line, "GO_TOOLCHAIN := go"); ok {
			toolchain = strings.TrimSpace(v)
		}
	}
	require.NotEmpty(t, toolchain, "the Makefile names GO_TOOLCHAIN")
	assert.True(t, strings.HasPrefix(dockerfileBaseArgs(t)["GO_IMAGE"], "golang:"+toolchain+"-"), "the builder image is Go %s", toolchain)
}

// dockerfileBaseArgs are the build arguments declared before the first
// FROM (the base images), with their defaults.
func dockerfileBaseArgs(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(root(t), "Dockerfile"))
	require.NoError(t, err)
	defer f.Close()
	res, err := parser.Parse(f)
	require.NoError(t, err)
	args := map[string]string{}
	for _, n := range res.AST.Children {
		if strings.EqualFold(n.Value, "from") {
			break
		}
		if strings.EqualFold(n.Value, "arg") && n.Next != nil {
			k, v, _ := strings.Cut(n.Next.Value, "=")
			args[k] = v
		}
	}
	return args
}

// docker-compose.yml loads with the compose-spec loader; each app has a
// sidecar in its network namespace with dapr.yaml's flags; only the gateway
// and the database's admin port are published.
func TestComposeMatchesTheRunTemplate(t *testing.T) {
	dir := root(t)
	opts, err := cli.NewProjectOptions([]string{filepath.Join(dir, "docker-compose.yml")},
		cli.WithWorkingDirectory(dir), cli.WithEnvFiles(filepath.Join(dir, ".env.example")), cli.WithDotEnv, cli.WithName("pms"))
	require.NoError(t, err)
	project, err := cli.ProjectFromOptions(context.Background(), opts)
	require.NoError(t, err, "docker-compose.yml must load (with .env.example's variables)")

	for _, a := range templateApps(t) {
		svc, ok := project.Services[a.AppID]
		require.True(t, ok, "service %s", a.AppID)
		require.NotNil(t, svc.Build, "%s is built from the Dockerfile", a.AppID)
		assert.Equal(t, a.AppID, *svc.Build.Args["APP"], "%s builds its own app", a.AppID)
		require.NotNil(t, svc.Environment["APP_ID"], a.AppID)
		assert.Equal(t, a.AppID, *svc.Environment["APP_ID"])

		for k, v := range dockerfileBaseArgs(t) {
			assert.Equal(t, v, *svc.Build.Args[k], "%s: Compose's default %s is the Dockerfile's", a.AppID, k)
		}

		side, ok := project.Services[a.AppID+"-dapr"]
		require.True(t, ok, "sidecar %s-dapr", a.AppID)
		assert.Equal(t, "daprio/daprd:1.18.2", side.Image)
		assert.Equal(t, "service:"+a.AppID+"-dapr", svc.NetworkMode, "the app joins its sidecar's network namespace")
		assert.Contains(t, side.DependsOn, "sentry", "%s's sidecar gets its certificate from Sentry", a.AppID)
		require.NotNil(t, side.Environment["DAPR_TRUST_ANCHORS"], "%s's sidecar trusts the stack's root", a.AppID)
		flags := map[string]string{}
		for _, arg := range side.Command {
			if k, v, ok := strings.Cut(strings.TrimPrefix(arg, "--"), "="); ok {
				flags[k] = v
			}
		}
		want := map[string]string{"app-id": a.AppID, "app-port": fmt.Sprint(a.AppPort), "app-protocol": a.AppProtocol,
			"dapr-http-port": fmt.Sprint(a.DaprHTTPPort), "dapr-grpc-port": fmt.Sprint(a.DaprGRPCPort),
			// The same Configuration (allow-list, access control) as locally,
			// with mTLS from the stack's Sentry.
			"config":                "/dapr-config/" + filepath.Base(a.ConfigFile),
			"sentry-address":        "sentry:50001",
			"dapr-listen-addresses": "127.0.0.1",
			// Its metrics for the prometheus service, on the project's
			// network (never published).
			"metrics-listen-address": "0.0.0.0"}
		for k, v := range want {
			assert.Equal(t, v, flags[k], "%s sidecar --%s", a.AppID, k)
		}
		assert.Contains(t, []string(side.Command), "--enable-mtls", "%s sidecar", a.AppID)
		assert.Equal(t, *svc.Environment["APP_API_TOKEN"], *side.Environment["APP_API_TOKEN"], "%s: app and sidecar share the app token", a.AppID)
		assert.Equal(t, "http://traces:4317", *svc.Environment["OTEL_EXPORTER_OTLP_ENDPOINT"], "%s exports its traces", a.AppID)
		assert.Equal(t, "0.1", *svc.Environment["OTEL_TRACES_SAMPLER_ARG"], "%s: one request in ten, the documented rate", a.AppID)
		assert.Equal(t, "0.0.0.0:9464", *svc.Environment["METRICS_ADDR"], "%s serves metrics to the prometheus service", a.AppID)
		if dbURL, ok := a.Env["DATABASE_URL"]; ok {
			db := dbURL[strings.LastIndex(dbURL, "/")+1 : strings.Index(dbURL, "?")]
			assert.True(t, strings.HasPrefix(*svc.Environment["DATABASE_URL"], "postgres://"+db+"_app:"), "%s runs as its runtime login", a.AppID)
			assert.Contains(t, *svc.Environment["DATABASE_URL"], "@postgres:5432/"+db+"?", "%s uses its own database", a.AppID)
			for k := range svc.Environment {
				assert.False(t, strings.HasPrefix(k, "MIGRATE_"), "%s holds no migration login (%s)", a.AppID, k)
			}
			// The migration step runs before the service, from the same image.
			assert.Equal(t, "service_completed_successfully", svc.DependsOn[a.AppID+"-migrate"].Condition, a.AppID)
			mig, ok := project.Services[a.AppID+"-migrate"]
			require.True(t, ok, "one-shot %s-migrate", a.AppID)
			assert.Equal(t, svc.Image, mig.Image)
			assert.Equal(t, []string{"migrate"}, []string(mig.Command))
			assert.True(t, strings.HasPrefix(*mig.Environment["MIGRATE_DATABASE_URL"], "postgres://"+db+"_owner:"), "%s migrates as the owner", a.AppID)
			assert.Equal(t, *svc.Environment["DATABASE_URL"], *mig.Environment["DATABASE_URL"], "%s: the login provisioned is the one the service uses", a.AppID)
		}
	}

	var published []string
	for name, svc := range project.Services {
		for _, p := range svc.Ports {
			published = append(published, fmt.Sprintf("%s:%s", name, p.Published))
		}
	}
	slices.Sort(published)
	assert.Equal(t, []string{"api-gateway-dapr:4004", "postgres:5432", "prometheus:9090", "traces:16686"}, published, "the gateway's port is on the namespace it joins")
	for _, svc := range []string{"api-gateway-dapr", "postgres", "prometheus", "traces"} {
		assert.Equal(t, "127.0.0.1", project.Services[svc].Ports[0].HostIP, "%s is published on loopback only", svc)
	}
	assert.Equal(t, "daprio/sentry:1.18.2", project.Services["sentry"].Image)
	require.NotNil(t, project.Services["postgres"].Build, "PostgreSQL is built with pgBackRest")
	assert.Equal(t, "postgres:15.10-bookworm", *project.Services["postgres"].Build.Args["POSTGRES_IMAGE"])
	assert.Equal(t, project.Services["postgres"].Image, project.Services["backup"].Image, "the backup service runs pgBackRest of the same image")
	assert.Equal(t, "apache/kafka:3.9.1", project.Services["kafka"].Image)
	assert.Equal(t, "jaegertracing/all-in-one:1.75.0", project.Services["traces"].Image)
	assert.Equal(t, "prom/prometheus:v2.55.1", project.Services["prometheus"].Image)

	ignored, err := os.ReadFile(filepath.Join(dir, ".gitignore"))
	require.NoError(t, err)
	assert.Contains(t, string(ignored), "/.env", "the real env file is never committed")
}

// The sidecars in docker-compose.yml read infrastructure/compose/dapr-config:
// dapr/config's Configurations (the same allow-lists and access control)
// with tracing to the traces service at the documented rate, and nothing
// else changed.
func TestComposeSidecarConfigsAreTheLocalOnesTraced(t *testing.T) {
	read := func(path string) map[string]any {
		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		var doc map[string]any
		require.NoError(t, yaml.Unmarshal(raw, &doc), path)
		return doc
	}
	for _, a := range templateApps(t) {
		local := read(filepath.Join(root(t), "dapr", "config", filepath.Base(a.ConfigFile)))
		compose := read(filepath.Join(root(t), "infrastructure", "compose", "dapr-config", filepath.Base(a.ConfigFile)))
		local["spec"].(map[string]any)["tracing"] = map[string]any{
			"samplingRate": "0.1",
			"otel":         map[string]any{"endpointAddress": "traces:4317", "isSecure": false, "protocol": "grpc"},
		}
		assert.Equal(t, local, compose, "%s: infrastructure/compose/dapr-config differs from dapr/config beyond tracing", a.AppID)
	}
}
