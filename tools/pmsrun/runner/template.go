// Package runner starts the whole system locally the way `dapr run -f .`
// would: it reads the multi-app run template (dapr.yaml), starts the
// embedded dev dependencies (a throwaway PostgreSQL cluster and a
// Kafka-protocol broker) unless the user points at their own, then starts
// every app beside its own daprd with the flags and environment the Dapr CLI
// passes, and stops all of it cleanly. `make run` and the end-to-end tests
// both use it.
package runner

import (
	"fmt"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

// Template is a Dapr multi-app run file (version 1). Only the fields the
// project uses are read; others are ignored, as the CLI ignores unknown ones.
type Template struct {
	Version int           `yaml:"version"`
	Common  AppTemplate   `yaml:"common"`
	Apps    []AppTemplate `yaml:"apps"`

	dir string // directory of the template file; relative paths start here
}

// AppTemplate is one app entry (or the common section) of the template.
type AppTemplate struct {
	AppID                string            `yaml:"appID"`
	AppDirPath           string            `yaml:"appDirPath"`
	AppPort              int               `yaml:"appPort"`
	AppProtocol          string            `yaml:"appProtocol"`
	AppChannelAddress    string            `yaml:"appChannelAddress"`
	APIListenAddresses   string            `yaml:"apiListenAddresses"`
	Command              []string          `yaml:"command"`
	ResourcesPath        string            `yaml:"resourcesPath"` // deprecated single form
	ResourcesPaths       []string          `yaml:"resourcesPaths"`
	ConfigFilePath       string            `yaml:"configFilePath"`
	Env                  map[string]string `yaml:"env"`
	DaprHTTPPort         int               `yaml:"daprHTTPPort"`
	DaprGRPCPort         int               `yaml:"daprGRPCPort"`
	DaprInternalGRPCPort int               `yaml:"daprInternalGRPCPort"`
	MetricsPort          int               `yaml:"metricsPort"`
	LogLevel             string            `yaml:"logLevel"`
	PlacementHostAddress *string           `yaml:"placementHostAddress"`
	SchedulerHostAddress *string           `yaml:"schedulerHostAddress"`
	AppHealthCheckPath   string            `yaml:"appHealthCheckPath"`
	MaxBodySize          string            `yaml:"maxBodySize"`
}

// LoadTemplate reads and checks the template at path (a file, or a directory
// holding dapr.yaml).
func LoadTemplate(path string) (*Template, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "dapr.yaml")
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("runner: read template: %w", err)
	}
	var t Template
	if err := yaml.Unmarshal(raw, &t); err != nil {
		return nil, fmt.Errorf("runner: parse %s: %w", path, err)
	}
	abs, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	t.dir = abs
	if t.Version != 1 {
		return nil, fmt.Errorf("runner: %s: version must be 1, got %d", path, t.Version)
	}
	seen := map[string]bool{}
	for i, a := range t.Apps {
		switch {
		case a.AppDirPath == "":
			return nil, fmt.Errorf("runner: %s: apps[%d]: appDirPath is required", path, i)
		case len(a.Command) == 0:
			return nil, fmt.Errorf("runner: %s: apps[%d]: command is required", path, i)
		}
		if a.AppID == "" {
			t.Apps[i].AppID = filepath.Base(filepath.Clean(a.AppDirPath))
		}
		if seen[t.Apps[i].AppID] {
			return nil, fmt.Errorf("runner: %s: app id %q appears twice", path, t.Apps[i].AppID)
		}
		seen[t.Apps[i].AppID] = true
	}
	return &t, nil
}

// Dir is the directory relative paths in the template are resolved against.
func (t *Template) Dir() string { return t.dir }

// resolved returns app i as the Dapr CLI would run it: paths the app sets
// are relative to its appDirPath, common paths to the template's directory;
// resources and configuration come from the app, else from
// <appDirPath>/.dapr/, else from the common section; env merges common
// under the app's own.
func (t *Template) resolved(i int) AppTemplate {
	a, c := t.Apps[i], t.Common
	a.AppDirPath = absFrom(t.dir, a.AppDirPath)
	if a.AppProtocol == "" {
		a.AppProtocol = or(c.AppProtocol, "http")
	}
	a.AppChannelAddress = or(a.AppChannelAddress, or(c.AppChannelAddress, "127.0.0.1"))
	a.APIListenAddresses = or(a.APIListenAddresses, c.APIListenAddresses)
	a.LogLevel = or(a.LogLevel, or(c.LogLevel, "info"))
	a.MaxBodySize = or(a.MaxBodySize, c.MaxBodySize)
	if a.PlacementHostAddress == nil {
		a.PlacementHostAddress = c.PlacementHostAddress
	}
	if a.SchedulerHostAddress == nil {
		a.SchedulerHostAddress = c.SchedulerHostAddress
	}

	local := filepath.Join(a.AppDirPath, ".dapr")
	a.ResourcesPaths = absAll(a.AppDirPath, withSingle(a.ResourcesPaths, a.ResourcesPath))
	if len(a.ResourcesPaths) == 0 {
		if isDir(filepath.Join(local, "resources")) {
			a.ResourcesPaths = []string{filepath.Join(local, "resources")}
		} else {
			a.ResourcesPaths = absAll(t.dir, withSingle(c.ResourcesPaths, c.ResourcesPath))
		}
	}
	if a.ConfigFilePath != "" {
		a.ConfigFilePath = absFrom(a.AppDirPath, a.ConfigFilePath)
	} else if isFile(filepath.Join(local, "config.yaml")) {
		a.ConfigFilePath = filepath.Join(local, "config.yaml")
	} else if c.ConfigFilePath != "" {
		a.ConfigFilePath = absFrom(t.dir, c.ConfigFilePath)
	}

	env := map[string]string{}
	for k, v := range c.Env {
		env[k] = v
	}
	for k, v := range a.Env {
		env[k] = v
	}
	a.Env = env
	return a
}

func withSingle(paths []string, single string) []string {
	if single != "" {
		return append(append([]string(nil), paths...), single)
	}
	return paths
}

func absAll(base string, paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = absFrom(base, p)
	}
	return out
}

func absFrom(base, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(base, p)
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

func or(v, def string) string {
	if v != "" {
		return v
	}
	return def
}
