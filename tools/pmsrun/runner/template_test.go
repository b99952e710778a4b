package runner

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func writeTemplate(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "dapr.yaml"), []byte(body), 0o644))
	return dir
}

func TestTemplateResolvesCommonSectionAndPaths(t *testing.T) {
	dir := writeTemplate(t, `
version: 1
common:
  resourcesPaths: ["./components"]
  configFilePath: ./components/config.yaml
  placementHostAddress: ""
  env:
    SHARED: "1"
    DEBUG: true
apps:
  - appID: a
    appDirPath: ./apps/a/
    appPort: 4000
    configFilePath: ./own.yaml
    command: ["../../bin/a"]
    env:
      SHARED: "2"
  - appDirPath: ./apps/b-service
    appProtocol: grpc
    resourcesPaths: ["/abs/res"]
    command: ["b"]
`)
	tmpl, err := LoadTemplate(dir)
	require.NoError(t, err)

	a := tmpl.resolved(0)
	assert.Equal(t, "a", a.AppID)
	assert.Equal(t, filepath.Join(dir, "apps/a"), a.AppDirPath)
	assert.Equal(t, "http", a.AppProtocol, "protocol defaults to http")
	assert.Equal(t, "127.0.0.1", a.AppChannelAddress)
	assert.Equal(t, []string{filepath.Join(dir, "components")}, a.ResourcesPaths)
	assert.Equal(t, filepath.Join(dir, "apps/a/own.yaml"), a.ConfigFilePath, "an app's paths are relative to its directory")
	assert.Equal(t, map[string]string{"SHARED": "2", "DEBUG": "true"}, a.Env, "the app's env wins")
	require.NotNil(t, a.PlacementHostAddress)
	assert.Empty(t, *a.PlacementHostAddress)

	b := tmpl.resolved(1)
	assert.Equal(t, "b-service", b.AppID, "app id defaults to the directory name")
	assert.Equal(t, "grpc", b.AppProtocol)
	assert.Equal(t, []string{"/abs/res"}, b.ResourcesPaths)
	assert.Equal(t, filepath.Join(dir, "components/config.yaml"), b.ConfigFilePath, "common paths are relative to the template")
}

func TestAppDotDaprDirectoryComesBeforeCommon(t *testing.T) {
	dir := writeTemplate(t, "version: 1\ncommon:\n  resourcesPaths: [./components]\n  configFilePath: ./c.yaml\napps:\n  - {appID: a, appDirPath: ./a, command: [x]}\n")
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "a/.dapr/resources"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a/.dapr/config.yaml"), nil, 0o644))
	tmpl, err := LoadTemplate(dir)
	require.NoError(t, err)
	a := tmpl.resolved(0)
	assert.Equal(t, []string{filepath.Join(dir, "a/.dapr/resources")}, a.ResourcesPaths)
	assert.Equal(t, filepath.Join(dir, "a/.dapr/config.yaml"), a.ConfigFilePath)
}

func TestTemplateErrors(t *testing.T) {
	cases := map[string]string{
		"wrong version": "version: 2\napps: []\n",
		"no dir":        "version: 1\napps:\n  - appID: a\n    command: [x]\n",
		"no command":    "version: 1\napps:\n  - appID: a\n    appDirPath: .\n",
		"duplicate id":  "version: 1\napps:\n  - {appID: a, appDirPath: ., command: [x]}\n  - {appID: a, appDirPath: ., command: [y]}\n",
		"not yaml":      "version: [\n",
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := LoadTemplate(writeTemplate(t, body))
			assert.Error(t, err)
		})
	}
}

func TestProjectTemplateDescribesFiveApps(t *testing.T) {
	tmpl, err := LoadTemplate("../../..")
	require.NoError(t, err)
	protocols := map[string]string{}
	for i := range tmpl.Apps {
		a := tmpl.resolved(i)
		protocols[a.AppID] = a.AppProtocol
		assert.NotNil(t, a.PlacementHostAddress, "%s: placement disabled explicitly", a.AppID)
		assert.FileExists(t, a.ConfigFilePath)
		assert.DirExists(t, a.AppDirPath)
	}
	assert.Equal(t, map[string]string{
		"api-gateway": "http", "auth-service": "http", "patient-service": "http",
		"billing-service": "grpc", "analytics-service": "http",
	}, protocols)
}

func TestDaprdArgsMatchTheCLI(t *testing.T) {
	empty, blank := "", " "
	a := &App{ID: "billing-service", AppPort: 9001, DaprHTTPPort: 3503, DaprGRPCPort: 3513,
		DaprInternalGRPCPort: 40001, DaprMetricsPort: 40002,
		spec: AppTemplate{AppProtocol: "grpc", AppChannelAddress: "127.0.0.1", LogLevel: "info",
			ResourcesPaths: []string{"/r1", "/r2"}, ConfigFilePath: "/c.yaml", PlacementHostAddress: &empty,
			SchedulerHostAddress: &blank, APIListenAddresses: "127.0.0.1"},
		sys: &System{opts: Options{Daprd: "/bin/daprd"}}}
	assert.Equal(t, []string{"/bin/daprd",
		"--app-id", "billing-service", "--app-protocol", "grpc", "--app-channel-address", "127.0.0.1",
		"--dapr-http-port", "3503", "--dapr-grpc-port", "3513", "--dapr-internal-grpc-port", "40001",
		"--metrics-port", "40002",
		"--dapr-internal-grpc-listen-address", "127.0.0.1", "--metrics-listen-address", "127.0.0.1",
		"--log-level", "info", "--app-port", "9001", "--dapr-listen-addresses", "127.0.0.1",
		"--resources-path", "/r1", "--resources-path", "/r2", "--config", "/c.yaml",
	}, a.daprdArgs())
	assert.NotContains(t, a.daprdArgs(), "--enable-mtls", "no Sentry, no mTLS flags")

	// With the run's Sentry, as the CLI does for a Configuration with mTLS.
	a.sys.Sentry = &Sentry{Address: "127.0.0.1:50001", TrustAnchors: []byte("PEM")}
	args := a.daprdArgs()
	assert.Equal(t, []string{"--enable-mtls", "--sentry-address", "127.0.0.1:50001"}, args[len(args)-3:])
	assert.Contains(t, a.daprdEnv(), "DAPR_TRUST_ANCHORS=PEM")

	env := a.appEnv()
	for _, want := range []string{"APP_ID=billing-service", "APP_PORT=9001", "APP_PROTOCOL=grpc",
		"DAPR_HTTP_PORT=3503", "DAPR_GRPC_PORT=3513", "DAPR_METRICS_PORT=40002"} {
		assert.Contains(t, env, want)
	}
}
