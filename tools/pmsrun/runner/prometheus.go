package runner

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"
)

// Prometheus is the Prometheus server a run starts when one is installed
// (Debian's prometheus): on loopback, scraping every app's /metrics (job
// pms) and every sidecar's (job dapr), each target labelled with its app
// id, with the project's alert rules loaded.
type Prometheus struct {
	URL  string
	proc *proc
}

// AlertRules is the project's alert rules file, relative to the template's
// directory.
const AlertRules = "infrastructure/observability/alerts.yml"

// startPrometheus starts Prometheus unless NoPrometheus is set or none is
// installed.
func (s *System) startPrometheus(ctx context.Context) error {
	if s.opts.NoPrometheus {
		return nil
	}
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		return nil // optional: make prerequisites installs it
	}
	port, err := s.ports.want(9090, true)
	if err != nil {
		return err
	}
	dir := filepath.Join(s.opts.DataDir, "prometheus")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("runner: prometheus: %w", err)
	}
	config := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(config, s.prometheusConfig(), 0o644); err != nil {
		return fmt.Errorf("runner: prometheus: %w", err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	p, err := startProc(procSpec{
		name: "prometheus", dir: dir,
		argv: []string{bin, "--config.file=" + config, "--storage.tsdb.path=" + filepath.Join(dir, "data"),
			"--storage.tsdb.retention.time=1d", "--web.listen-address=" + addr, "--log.level=warn"},
		env:     os.Environ(),
		logFile: filepath.Join(dir, "prometheus.log"),
		out:     s.opts.Console,
	})
	if err != nil {
		return fmt.Errorf("runner: %w", err)
	}
	s.Prometheus = &Prometheus{URL: "http://" + addr, proc: p}
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for !healthy(ctx, client, s.Prometheus.URL+"/-/ready", http.StatusOK) {
		if p.exited() {
			return p.crashReport()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("runner: prometheus not ready after 30s (%s)", filepath.Join(dir, "prometheus.log"))
		}
		time.Sleep(200 * time.Millisecond)
	}
	return nil
}

// prometheusConfig scrapes every app that serves metrics (METRICS_ADDR)
// and every sidecar, every 5 seconds, and loads the alert rules.
func (s *System) prometheusConfig() []byte {
	type target struct {
		Targets []string          `yaml:"targets"`
		Labels  map[string]string `yaml:"labels"`
	}
	var apps, sidecars []target
	for _, a := range s.apps {
		if addr := a.spec.Env["METRICS_ADDR"]; addr != "" {
			apps = append(apps, target{Targets: []string{addr}, Labels: map[string]string{"app": a.ID}})
		}
		sidecars = append(sidecars, target{Targets: []string{"127.0.0.1:" + strconv.Itoa(a.DaprMetricsPort)}, Labels: map[string]string{"app": a.ID}})
	}
	rules := s.opts.AlertRules
	if len(rules) == 0 {
		rules = []string{filepath.Join(s.tmpl.Dir(), AlertRules)}
	}
	out, _ := yaml.Marshal(map[string]any{
		"global":     map[string]any{"scrape_interval": "5s", "evaluation_interval": "5s"},
		"rule_files": rules,
		"scrape_configs": []map[string]any{
			{"job_name": "pms", "static_configs": apps},
			{"job_name": "dapr", "static_configs": sidecars},
		},
	})
	return out
}
