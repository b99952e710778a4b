package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/tests/internal/wait"
	"github.com/pms-dapr/pms/tools/pmsrun/runner"
)

// quickAlertRules writes a copy of the project's alert rules whose every
// `for:` is 5 seconds, so the suite sees an alert fire without waiting
// minutes; the expressions and thresholds are the real ones.
func quickAlertRules(root string) (string, error) {
	raw, err := os.ReadFile(filepath.Join(root, runner.AlertRules))
	if err != nil {
		return "", err
	}
	quick := regexp.MustCompile(`(?m)^(\s+for:) \S+$`).ReplaceAll(raw, []byte("$1 5s"))
	dir, err := os.MkdirTemp("", "pms-e2e-rules-")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "alerts.yml")
	return path, os.WriteFile(path, quick, 0o644)
}

// promAPI GETs a Prometheus API path and decodes its data.
func promAPI(t *testing.T, path string, into any) {
	t.Helper()
	require.NotNil(t, sys.Prometheus, "Prometheus is not installed (make prerequisites installs Debian's prometheus)")
	resp, err := httpClient.Get(sys.Prometheus.URL + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, path)
	var body struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	require.Equal(t, "success", body.Status)
	require.NoError(t, json.Unmarshal(body.Data, into))
}

// Prometheus scrapes every app and every sidecar, and all are up.
func TestPrometheusScrapesEveryAppAndSidecar(t *testing.T) {
	wait.Until(t, 60*time.Second, "every target up", func() error {
		var data struct {
			ActiveTargets []struct {
				Labels    map[string]string `json:"labels"`
				Health    string            `json:"health"`
				LastError string            `json:"lastError"`
			} `json:"activeTargets"`
		}
		promAPI(t, "/api/v1/targets", &data)
		up := map[string]bool{}
		for _, tg := range data.ActiveTargets {
			if tg.Health != "up" {
				return fmt.Errorf("%s %s is %s: %s", tg.Labels["job"], tg.Labels["app"], tg.Health, tg.LastError)
			}
			up[tg.Labels["job"]+" "+tg.Labels["app"]] = true
		}
		for _, a := range sys.Apps() {
			for _, job := range []string{"pms", "dapr"} {
				if !up[job+" "+a.ID] {
					return fmt.Errorf("no target %s %s", job, a.ID)
				}
			}
		}
		return nil
	})
}

// alertState is the state of alertname with the given label (Prometheus's
// /api/v1/alerts): "", "pending" or "firing".
func alertState(t *testing.T, alertname, label, value string) string {
	var data struct {
		Alerts []struct {
			Labels map[string]string `json:"labels"`
			State  string            `json:"state"`
		} `json:"alerts"`
	}
	promAPI(t, "/api/v1/alerts", &data)
	state := ""
	for _, a := range data.Alerts {
		if a.Labels["alertname"] == alertname && a.Labels[label] == value && (state == "" || a.State == "firing") {
			state = a.State
		}
	}
	return state
}

// With the broker refusing writes, a registration's event waits in the
// outbox and the outbox alert fires once its age passes the threshold (a
// minute); a malformed event dead-lettered fires the dead-letter alert.
// Both through Prometheus's /api/v1/alerts, with the real expressions.
func TestAlertsFireForAStuckOutboxAndADeadLetter(t *testing.T) {
	require.NotNil(t, sys.Kafka, "the suite runs the dev broker")

	// A dead letter.
	letter := parkMalformedEvent(t)
	defer func() {
		r := do(t, http.MethodPost, gateway+"/admin/dead-letters/discard", map[string]any{"ids": []string{letter.ID}, "reason": "alert test event"})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	}()

	// A stuck outbox: the broker refuses writes, a registration commits.
	sys.Kafka.RefuseWrites(true)
	lifted := false
	lift := func() {
		if !lifted {
			sys.Kafka.RefuseWrites(false)
			lifted = true
		}
	}
	defer lift()
	createPatient(t, newPatient("Stuck Outbox"))

	wait.Until(t, 30*time.Second, "the dead-letter alert fires", func() error {
		if s := alertState(t, "PMSDeadLettersWaiting", "topic", "patient"); s != "firing" {
			return fmt.Errorf("PMSDeadLettersWaiting is %q", s)
		}
		return nil
	})
	wait.Until(t, 2*time.Minute, "the outbox alert fires", func() error {
		if s := alertState(t, "PMSOutboxLagging", "app", "patient-service"); s != "firing" {
			return fmt.Errorf("PMSOutboxLagging is %q", s)
		}
		return nil
	})

	// Writes accepted again: the outbox drains and the alert resolves.
	lift()
	wait.Until(t, 60*time.Second, "the outbox alert resolves", func() error {
		if s := alertState(t, "PMSOutboxLagging", "app", "patient-service"); s != "" {
			return fmt.Errorf("PMSOutboxLagging is still %q", s)
		}
		var v []struct {
			Value [2]any `json:"value"`
		}
		promAPI(t, "/api/v1/query?query="+url.QueryEscape(`pms_outbox_pending{app="patient-service"}`), &struct {
			Result *[]struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		}{Result: &v})
		if len(v) == 0 || v[0].Value[1] != "0" {
			return fmt.Errorf("events still pending: %v", v)
		}
		return nil
	})
}
