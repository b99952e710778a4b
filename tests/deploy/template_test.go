package deploy

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// app is what dapr.yaml says about one app: the single source of truth the
// artifacts are checked against.
type app struct {
	AppID        string            `yaml:"appID"`
	AppPort      int               `yaml:"appPort"`
	AppProtocol  string            `yaml:"appProtocol"`
	DaprHTTPPort int               `yaml:"daprHTTPPort"`
	DaprGRPCPort int               `yaml:"daprGRPCPort"`
	ConfigFile   string            `yaml:"configFilePath"`
	Env          map[string]string `yaml:"env"`
}

// root is the repository root (this module is tests/deploy).
func root(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(dir, "dapr.yaml"))
	return dir
}

func templateApps(t *testing.T) []app {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root(t), "dapr.yaml"))
	require.NoError(t, err)
	var tmpl struct{ Apps []app }
	require.NoError(t, yaml.Unmarshal(raw, &tmpl))
	require.Len(t, tmpl.Apps, 5)
	return tmpl.Apps
}

func appIDs(t *testing.T) map[string]bool {
	ids := map[string]bool{}
	for _, a := range templateApps(t) {
		ids[a.AppID] = true
	}
	return ids
}
