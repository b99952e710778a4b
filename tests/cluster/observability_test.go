package cluster

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/tests/internal/wait"
)

// The observability component (infrastructure/observability) runs beside
// the system: a registration sampled at the shipping rate (one in ten) is
// one trace in the trace store, with spans from every pod it crossed (the
// gateway and its sidecar, patient-service, its sidecar and its database
// calls, billing-service opening the account, and both consumers of the
// patient event), every span's parent in the trace; and Prometheus scrapes
// every app and every sidecar, all of them up.
func TestObservability(t *testing.T) {
	token := adminToken(t)

	t.Run("a sampled registration is one trace across the pods", func(t *testing.T) {
		var traceID string
		for i := 0; i < 100 && traceID == ""; i++ {
			email := fmt.Sprintf("trace.%d@example.com", time.Now().UnixNano())
			r := mustCall(t, http.MethodPost, gateway+"/patients", token,
				map[string]string{"name": "Trace Cluster", "email": email, "address": "2 Span Road", "dateOfBirth": "1980-02-03"})
			require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
			if parts := strings.Split(r.header.Get("Traceresponse"), "-"); len(parts) == 4 {
				traceID = parts[1]
			}
		}
		require.NotEmpty(t, traceID, "none of 100 registrations was sampled at one in ten")

		traces := portForward(t, readyPods(t, "traces")[0].Metadata.Name, 16686)
		want := []string{
			"api-gateway POST /patients",
			"api-gateway CallLocal/patient-service",
			"patient-service CallLocal/patient-service",
			"patient-service POST /patients",
			"patient-service postgresql",
			"billing-service pms.billing.v1.BillingService/CreateBillingAccount",
			"billing-service consume patient",
			"analytics-service consume patient",
		}
		wait.Until(t, time.Minute, "trace "+traceID+" has every hop's span", func() error {
			return traceHolds(traces, traceID, want)
		})
	})

	t.Run("Prometheus scrapes every app and every sidecar, all up", func(t *testing.T) {
		prometheus := portForward(t, readyPods(t, "prometheus")[0].Metadata.Name, 9090)
		wait.Until(t, 2*time.Minute, "every app and sidecar target up", func() error {
			return targetsUp(prometheus)
		})
	})
}

// traceHolds checks that the trace store's trace id (Jaeger's query API
// shape) has a span for each "service operation-prefix" of want, one root,
// and every other span's parent in the trace.
func traceHolds(traces, id string, want []string) error {
	var body struct {
		Data []struct {
			Spans []struct {
				SpanID        string `json:"spanID"`
				OperationName string `json:"operationName"`
				ProcessID     string `json:"processID"`
				References    []struct {
					RefType string `json:"refType"`
					SpanID  string `json:"spanID"`
				} `json:"references"`
			} `json:"spans"`
			Processes map[string]struct {
				ServiceName string `json:"serviceName"`
			} `json:"processes"`
		} `json:"data"`
	}
	if err := getJSON(traces+"/api/traces/"+id, &body); err != nil {
		return err
	}
	if len(body.Data) != 1 {
		return fmt.Errorf("%d traces", len(body.Data))
	}
	tr := body.Data[0]
	ids, seen := map[string]bool{}, []string{}
	for _, s := range tr.Spans {
		ids[s.SpanID] = true
		seen = append(seen, tr.Processes[s.ProcessID].ServiceName+" "+s.OperationName)
	}
	for _, w := range want {
		found := false
		for _, s := range seen {
			found = found || strings.HasPrefix(s, w)
		}
		if !found {
			return fmt.Errorf("no span %q among %q", w, seen)
		}
	}
	roots := 0
	for _, s := range tr.Spans {
		parent := ""
		for _, ref := range s.References {
			if ref.RefType == "CHILD_OF" {
				parent = ref.SpanID
			}
		}
		switch {
		case parent == "":
			roots++
		case !ids[parent]:
			return fmt.Errorf("span %q has its parent %s outside the trace", s.OperationName, parent)
		}
	}
	if roots != 1 {
		return fmt.Errorf("%d roots", roots)
	}
	return nil
}

// targetsUp checks Prometheus's active targets: every one up, and each app
// scraped both as itself (job pms) and as its sidecar (job dapr).
func targetsUp(prometheus string) error {
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
	up := map[string]bool{}
	for _, tg := range body.Data.ActiveTargets {
		if tg.Health != "up" {
			return fmt.Errorf("%s %s %s: %s %s", tg.Labels["job"], tg.Labels["app"], tg.Labels["instance"], tg.Health, tg.LastError)
		}
		up[tg.Labels["job"]+" "+tg.Labels["app"]] = true
	}
	for _, app := range apps {
		for _, job := range []string{"pms", "dapr"} {
			if !up[job+" "+app] {
				return fmt.Errorf("no %s target for %s among %v", job, app, up)
			}
		}
	}
	return nil
}

// getJSON decodes what url answers (200) into v.
func getJSON(url string, v any) error {
	r, err := call(http.MethodGet, url, "", nil)
	if err != nil {
		return err
	}
	if r.status != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", url, r.status)
	}
	return json.Unmarshal(r.body, v)
}
