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

// resolved returns app i with the common section applied (the app's own
// values win) and every path made absolute.
func (t *Template) resolved(i int) AppTemplate {
	a, c := t.Apps[i], t.Common
	if a.AppProtocol == "" {
		a.AppProtocol = or(c.AppProtocol, "http")
	}
	a.AppChannelAddress = or(a.AppChannelAddress, or(c.AppChannelAddress, "127.0.0.1"))
	a.LogLevel = or(a.LogLevel, or(c.LogLevel, "info"))
	if a.PlacementHostAddress == nil {
		a.PlacementHostAddress = c.PlacementHostAddress
	}
	if a.SchedulerHostAddress == nil {
		a.SchedulerHostAddress = c.SchedulerHostAddress
	}
	if a.ConfigFilePath == "" {
		a.ConfigFilePath = c.ConfigFilePath
	}
	if len(a.ResourcesPaths) == 0 && a.ResourcesPath != "" {
		a.ResourcesPaths = []string{a.ResourcesPath}
	}
	if len(a.ResourcesPaths) == 0 {
		a.ResourcesPaths = c.ResourcesPaths
		if len(a.ResourcesPaths) == 0 && c.ResourcesPath != "" {
			a.ResourcesPaths = []string{c.ResourcesPath}
		}
	}
	env := map[string]string{}
	for k, v := range c.Env {
		env[k] = v
	}
	for k, v := range a.Env {
		env[k] = v
	}
	a.Env = env
	a.AppDirPath = t.abs(a.AppDirPath)
	if a.ConfigFilePath != "" {
		a.ConfigFilePath = t.abs(a.ConfigFilePath)
	}
	paths := make([]string, len(a.ResourcesPaths))
	for j, p := range a.ResourcesPaths {
		paths[j] = t.abs(p)
	}
	a.ResourcesPaths = paths
	return a
}

func (t *Template) abs(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(t.dir, p)
}

func or(v, def string) string {
	if v != "" {
		return v
	}
	return def
}
