package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// jaegerTrace is what the runner's trace API answers, in Jaeger's shape.
type jaegerTrace struct {
	TraceID string `json:"traceID"`
	Spans   []struct {
		SpanID        string `json:"spanID"`
		OperationName string `json:"operationName"`
		References    []struct {
			RefType string `json:"refType"`
			SpanID  string `json:"spanID"`
		} `json:"references"`
		ProcessID string `json:"processID"`
		Tags      []struct {
			Key   string `json:"key"`
			Value any    `json:"value"`
		} `json:"tags"`
	} `json:"spans"`
	Processes map[string]struct {
		ServiceName string `json:"serviceName"`
		Tags        []struct {
			Value any `json:"value"`
		} `json:"tags"`
	} `json:"processes"`
}

// span is one span of a trace, as the test reads it.
type traceSpan struct {
	id, parent, name, service, process string
	tags                               map[string]any
}

// traceOf is the trace the gateway named in Traceresponse, once it has
// every span want asks for (spans arrive in batches, events later).
func traceOf(t *testing.T, r response, want func([]traceSpan) error) []traceSpan {
	t.Helper()
	parts := strings.Split(r.header.Get("Traceresponse"), "-")
	require.Len(t, parts, 4, "the gateway answers the trace id (Traceresponse): %v", r.header)
	id := parts[1]
	var spans []traceSpan
	var missing error
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		spans = fetchTrace(t, id)
		if missing = want(spans); missing == nil {
			return spans
		}
		time.Sleep(500 * time.Millisecond)
	}
	require.NoError(t, missing, "trace %s (%s/trace/%s)", id, sys.Traces.URL, id)
	return nil
}

func fetchTrace(t *testing.T, id string) []traceSpan {
	t.Helper()
	resp, err := httpClient.Get(sys.Traces.URL + "/api/traces/" + id)
	require.NoError(t, err)
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil
	}
	var body struct {
		Data []jaegerTrace `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	require.Len(t, body.Data, 1)
	tr := body.Data[0]
	out := make([]traceSpan, 0, len(tr.Spans))
	for _, s := range tr.Spans {
		p := tr.Processes[s.ProcessID]
		ts := traceSpan{id: s.SpanID, name: s.OperationName, service: p.ServiceName, tags: map[string]any{}}
		if len(p.Tags) > 0 {
			ts.process = fmt.Sprint(p.Tags[0].Value)
		}
		for _, ref := range s.References {
			if ref.RefType == "CHILD_OF" {
				ts.parent = ref.SpanID
			}
		}
		for _, tag := range s.Tags {
			ts.tags[tag.Key] = tag.Value
		}
		out = append(out, ts)
	}
	return out
}

// expect is a span a trace must hold: of service (its app or its
// sidecar), named with prefix.
type expect struct{ service, process, prefix string }

func (e expect) String() string { return e.service + " " + e.process + " " + e.prefix }

// holds checks that spans has each expected span and that every span's
// parent is in the trace (the root's aside).
func holds(spans []traceSpan, want ...expect) error {
	ids := map[string]bool{}
	for _, s := range spans {
		ids[s.id] = true
	}
	for _, w := range want {
		found := false
		for _, s := range spans {
			if s.service == w.service && s.process == w.process && strings.HasPrefix(s.name, w.prefix) {
				found = true
			}
		}
		if !found {
			return fmt.Errorf("no span %q among %d", w, len(spans))
		}
	}
	roots := 0
	for _, s := range spans {
		switch {
		case s.parent == "":
			roots++
		case !ids[s.parent]:
			return fmt.Errorf("span %s %q has its parent %s outside the trace", s.service, s.name, s.parent)
		}
	}
	if roots != 1 {
		return fmt.Errorf("%d roots", roots)
	}
	return nil
}

// logsOf are the log lines of app that carry trace id, as the runner saw
// them.
func logsOf(t *testing.T, id string) map[string]int {
	t.Helper()
	resp, err := httpClient.Get(sys.Traces.URL + "/api/traces/" + id + "/logs")
	require.NoError(t, err)
	defer resp.Body.Close()
	var body struct {
		Data []struct{ App string } `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	out := map[string]int{}
	for _, l := range body.Data {
		out[l.App]++
	}
	return out
}

// A registration through the gateway is one trace: the gateway, its
// sidecar, patient-service and its sidecar, its database, billing-service
// (opening the account) and both consumers of the patient event
// (analytics and billing, each in the event's own trace); every span's
// parent is in the trace; a client's forged traceparent is not its parent;
// and each app's log lines for the request carry the trace id.
func TestARegistrationIsOneTrace(t *testing.T) {
	body := newPatient("Trace Registration")
	r := doAs(t, adminToken, http.MethodPost, gateway+"/patients", body,
		"Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	require.NotContains(t, r.header.Get("Traceresponse"), "4bf92f3577b34da6a3ce929d0e0e4736", "a client's trace is never continued")
	spans := traceOf(t, r, func(spans []traceSpan) error {
		return holds(spans,
			expect{"api-gateway", "app", "POST /patients"},
			expect{"api-gateway", "daprd", "CallLocal/patient-service"},
			expect{"patient-service", "daprd", "CallLocal/patient-service"},
			expect{"patient-service", "app", "POST /patients"},
			expect{"patient-service", "app", "postgresql"},
			expect{"billing-service", "app", "pms.billing.v1.BillingService/CreateBillingAccount"},
			expect{"billing-service", "app", "consume patient"},
			expect{"analytics-service", "app", "consume patient"})
	})
	for _, s := range spans {
		if s.service == "api-gateway" && s.process == "app" && s.name == "POST /patients" {
			assert.Empty(t, s.parent, "the gateway's span is the root")
		}
	}
	id := strings.Split(r.header.Get("Traceresponse"), "-")[1]
	logs := logsOf(t, id)
	for _, app := range []string{"api-gateway", "patient-service", "billing-service", "analytics-service"} {
		assert.Positive(t, logs[app], "%s's log lines carry the trace id", app)
	}
}

// A FHIR read and a ledger posting are traces of their own the same way;
// the posting's billing event is consumed by analytics in its trace, and
// billing-service counts the call in its metrics.
func TestAFHIRReadAndAPostingAreOneTraceEach(t *testing.T) {
	p, _ := createPatient(t, newPatient("Trace Posting"))

	read := doAs(t, adminToken, http.MethodGet, gateway+"/fhir/R4/Patient/"+p.ID, nil)
	require.Equal(t, http.StatusOK, read.status, "%s", read.body)
	traceOf(t, read, func(spans []traceSpan) error {
		return holds(spans,
			expect{"api-gateway", "app", "GET /fhir/R4/Patient/{id}"},
			expect{"api-gateway", "daprd", "CallLocal/patient-service"},
			expect{"patient-service", "daprd", "CallLocal/patient-service"},
			expect{"patient-service", "app", "GET /fhir/R4/Patient/{id}"},
			expect{"patient-service", "app", "postgresql"})
	})

	acct := accountOf(t, adminToken, p.ID)
	const billingMetrics = "127.0.0.1:9472" // billing-service's METRICS_ADDR in dapr.yaml
	const charges = `pms_grpc_requests_total{code="OK",method="/pms.billing.v1.BillingService/PostCharge"}`
	before := metricOr0(t, billingMetrics, charges)
	posting := post(t, adminToken, acct.ID, "charges", charge(1, 2_500), "trace-1")
	require.Equal(t, http.StatusCreated, posting.status, "%s", posting.body)
	assert.Equal(t, before+1, metric(t, billingMetrics, charges), "billing-service counts its gRPC calls")
	traceOf(t, posting, func(spans []traceSpan) error {
		return holds(spans,
			expect{"api-gateway", "app", "POST /billing/accounts/{id}/charges"},
			expect{"api-gateway", "daprd", "/pms.billing.v1.BillingService/PostCharge"},
			expect{"billing-service", "daprd", "/pms.billing.v1.BillingService/PostCharge"},
			expect{"billing-service", "app", "pms.billing.v1.BillingService/PostCharge"},
			expect{"billing-service", "app", "postgresql"},
			expect{"analytics-service", "app", "consume billing"})
	})
}

// metricOr0 is metric, or 0 for a series not there yet.
func metricOr0(t *testing.T, addr, sample string) float64 {
	t.Helper()
	resp, err := httpClient.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if !strings.Contains(string(body), sample+" ") {
		return 0
	}
	return metric(t, addr, sample)
}
