package cluster

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/tests/internal/wait"
)

// The tests run in file order and share the deployed system: the walk
// first, then scale-out, then pods lost and rolling restarts under load.

// Every app pod is Ready with a daprd container that Dapr's injector added
// (the Deployments declare only the app's container), configured with the
// app's own Configuration from the overlay.
func TestEveryAppRunsBesideAnInjectedSidecar(t *testing.T) {
	for _, app := range apps {
		var dep struct {
			Spec struct {
				Template struct {
					Spec struct {
						Containers []struct {
							Name string `json:"name"`
						} `json:"containers"`
					} `json:"spec"`
				} `json:"template"`
			} `json:"spec"`
		}
		require.NoError(t, json.Unmarshal([]byte(mustKubectl(t, "-n", namespace, "get", "deployment", app, "-o", "json")), &dep))
		require.Len(t, dep.Spec.Template.Spec.Containers, 1, "%s: the Deployment declares only the app", app)

		ready := readyPods(t, app)
		require.NotEmpty(t, ready, "%s: no ready pod", app)
		for _, p := range ready {
			var names []string
			for _, c := range p.Spec.Containers {
				names = append(names, c.Name)
			}
			assert.ElementsMatch(t, []string{app, "daprd"}, names, "%s: containers", p.Metadata.Name)
			args := mustKubectl(t, "-n", namespace, "get", "pod", p.Metadata.Name, "-o",
				`jsonpath={.spec.containers[?(@.name=="daprd")].args}`)
			assert.Contains(t, args, `"--config","`+app+`"`, "%s: daprd runs with the app's Configuration", p.Metadata.Name)
			assert.Contains(t, args, `"--app-id","`+app+`"`, "%s: daprd's app id", p.Metadata.Name)
		}
	}
	// The control plane's own Configuration keeps mTLS on.
	assert.Equal(t, "true", mustKubectl(t, "-n", "dapr-system", "get", "configurations.dapr.io", "daprsystem", "-o", "jsonpath={.spec.mtls.enabled}"))
}

// Sidecars accept other sidecars only over mutual TLS with Sentry-issued
// workload certificates: each one's internal port presents a certificate
// for its app's SPIFFE id (the trust domain its Configuration names) in
// the namespace, and refuses a client without one.
func TestSidecarsTalkMutualTLS(t *testing.T) {
	for _, app := range []string{"patient-service", "billing-service", "auth-service", "analytics-service"} {
		p := readyPods(t, app)[0]
		addr := net.JoinHostPort(p.Status.PodIP, "50002")
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
			&tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}}) //nolint:gosec // reads the certificate only
		require.NoError(t, err, "%s: TLS handshake", app)
		cert := conn.ConnectionState().PeerCertificates[0]
		require.Len(t, cert.URIs, 1)
		assert.Equal(t, fmt.Sprintf("spiffe://public/ns/%s/%s", namespace, app), cert.URIs[0].String(), "%s: workload identity", app)
		// Without a client certificate the sidecar ends the connection.
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = conn.Write([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))
		_, err = bufio.NewReader(conn).ReadByte()
		assert.Error(t, err, "%s: a client without a certificate was served", app)
		conn.Close()
	}
}

// Each sidecar accepts invocations only from the callers and operations
// its Configuration's access control lists: patient-service's sidecar may
// fetch auth-service's JWKS, but neither auth-service's user admin nor
// analytics' summary.
func TestAccessControlRefusesUnlistedCallers(t *testing.T) {
	p := readyPods(t, "patient-service")[0]
	token := secret(t, "patient-service-dapr-api-token", "token")
	local := portForward(t, p.Metadata.Name, 3500)
	invoke := func(app, method string) response {
		return mustCall(t, http.MethodGet, local+"/v1.0/invoke/"+app+"/method/"+method, "", nil, "dapr-api-token", token)
	}
	assert.Equal(t, http.StatusOK, invoke("auth-service", ".well-known/jwks.json").status, "listed: the JWKS")
	for _, target := range [][2]string{{"auth-service", "users"}, {"analytics-service", "analytics/summary"}} {
		r := invoke(target[0], target[1])
		assert.Equal(t, http.StatusForbidden, r.status, "patient-service → %s/%s: %s", target[0], target[1], r.body)
		assert.Contains(t, string(r.body), "ERR_DIRECT_INVOKE", "refused by the callee's access control")
	}
	// Without the sidecar's API token, nothing.
	r := mustCall(t, http.MethodGet, local+"/v1.0/invoke/auth-service/method/.well-known/jwks.json", "", nil)
	assert.Equal(t, http.StatusUnauthorized, r.status)
}

// portForward forwards a local port on 127.0.0.1 to the pod's port (inside
// the pod's network namespace, where the sidecar's API listens on
// loopback) and returns its base URL.
func portForward(t *testing.T, podName string, port int) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "kubectl", "-n", namespace, "port-forward", "--address", "127.0.0.1", "pod/"+podName, fmt.Sprintf(":%d", port))
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	// "Forwarding from 127.0.0.1:43127 -> 3500"
	f := strings.Fields(line)
	require.GreaterOrEqual(t, len(f), 3, "port-forward said %q", line)
	return "http://" + f[2]
}

// The walk a user takes: log in as the bootstrap admin, register a
// patient, read it back with its billing account and as a FHIR Patient,
// see analytics count it; a forged token gets nowhere.
func TestWalkThroughTheGateway(t *testing.T) {
	token := adminToken(t)
	before := createdCount(t, token)
	email := fmt.Sprintf("walk.%d@example.com", time.Now().UnixNano())
	r := mustCall(t, http.MethodPost, gateway+"/patients", token,
		map[string]string{"name": "Walk Cluster", "email": email, "address": "1 Node Street", "dateOfBirth": "1975-05-17"})
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	var created struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal(r.body, &created))

	wait.Until(t, time.Minute, "patient read back with its billing account", func() error {
		r := mustCall(t, http.MethodGet, gateway+"/patients/"+created.ID, token, nil)
		var p struct {
			Email            string `json:"email"`
			BillingAccountID string `json:"billingAccountId"`
		}
		if r.status != http.StatusOK {
			return fmt.Errorf("status %d: %s", r.status, r.body)
		}
		if err := json.Unmarshal(r.body, &p); err != nil {
			return err
		}
		if p.Email != email || p.BillingAccountID == "" {
			return fmt.Errorf("got %s", r.body)
		}
		return nil
	})
	wait.Until(t, time.Minute, "analytics counted the registration", func() error {
		if n := createdCount(t, token); n <= before {
			return fmt.Errorf("created %d, was %d", n, before)
		}
		return nil
	})

	// The same patient through the FHIR API (its own access-control
	// operation, /fhir/R4), and the public CapabilityStatement.
	r = mustCall(t, http.MethodGet, gateway+"/fhir/R4/Patient/"+created.ID, token, nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var fp struct {
		ResourceType string
		ID           string
		Telecom      []struct{ System, Value string }
	}
	require.NoError(t, json.Unmarshal(r.body, &fp))
	assert.Equal(t, "Patient", fp.ResourceType)
	assert.Equal(t, created.ID, fp.ID)
	require.NotEmpty(t, fp.Telecom)
	assert.Equal(t, email, fp.Telecom[0].Value)
	r = mustCall(t, http.MethodGet, gateway+"/fhir/R4/metadata", "", nil)
	assert.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Contains(t, string(r.body), `"fhirVersion":"4.0.1"`)

	// A token signed with another key.
	forged := token[:strings.LastIndex(token, ".")+1] + strings.Repeat("A", 86)
	r = mustCall(t, http.MethodGet, gateway+"/patients", forged, nil)
	assert.Equal(t, http.StatusUnauthorized, r.status, "forged token: %s", r.body)
	r = mustCall(t, http.MethodGet, gateway+"/patients", "", nil)
	assert.Equal(t, http.StatusUnauthorized, r.status, "no token: %s", r.body)
}

func createdCount(t *testing.T, token string) int64 {
	t.Helper()
	var s struct {
		TotalPatientsCreated int64 `json:"totalPatientsCreated"`
	}
	r := mustCall(t, http.MethodGet, gateway+"/analytics/summary", token, nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.NoError(t, json.Unmarshal(r.body, &s))
	return s.TotalPatientsCreated
}

// Two replicas of patient-service, analytics-service and the gateway take
// 2,000 registrations at a steady rate: each is stored once with one
// billing account and one analytics event, and both patient-service
// replicas served requests and relayed outbox rows.
func TestScaledOutEveryRegistrationIsStoredOnce(t *testing.T) {
	for _, app := range []string{"api-gateway", "patient-service", "analytics-service"} {
		scale(t, app, 2)
	}
	token := adminToken(t)
	patients := readyPods(t, "patient-service")
	before := map[string]sidecarCounts{}
	for _, p := range patients {
		before[p.Metadata.Name] = countsOf(t, p)
	}

	l := startLoad(token, 40, 2000, false)
	regs := l.finish()
	require.Len(t, regs, 2000)
	requireAllStoredOnce(t, token, regs)

	for _, p := range patients {
		after := countsOf(t, p)
		served := after.invocations - before[p.Metadata.Name].invocations
		relayed := after.published - before[p.Metadata.Name].published
		t.Logf("%s: served %.0f invocations, sent %.0f publish requests", p.Metadata.Name, served, relayed)
		assert.Positive(t, served, "%s served no request", p.Metadata.Name)
		assert.Positive(t, relayed, "%s relayed no outbox row", p.Metadata.Name)
	}
}

// sidecarCounts are a patient-service sidecar's totals since it started.
type sidecarCounts struct{ invocations, published float64 }

// countsOf reads a patient-service pod's sidecar metrics (port 9090 on the
// pod's address): invocations it received from the gateway, and publish
// requests its app made.
func countsOf(t *testing.T, p pod) sidecarCounts {
	t.Helper()
	r := mustCall(t, http.MethodGet, "http://"+net.JoinHostPort(p.Status.PodIP, "9090")+"/metrics", "", nil)
	require.Equal(t, http.StatusOK, r.status)
	var c sidecarCounts
	for _, line := range strings.Split(string(r.body), "\n") {
		switch {
		case strings.HasPrefix(line, "dapr_runtime_service_invocation_req_recv_total{") && strings.Contains(line, `src_app_id="api-gateway"`):
			c.invocations += metricValue(line)
		// Publish requests, of one event or (the outbox relay's way) a bulk
		// of them. daprd 1.18.2 does not export the events a bulk request
		// carried (its bulk event_count tags success with a bool, which
		// the exporter drops), so requests are what is counted.
		case (strings.HasPrefix(line, "dapr_component_pubsub_egress_count{") ||
			strings.HasPrefix(line, "dapr_component_pubsub_egress_bulk_count{")) &&
			strings.Contains(line, `topic="patient"`) && strings.Contains(line, `success="true"`):
			c.published += metricValue(line)
		}
	}
	return c
}

func metricValue(line string) float64 {
	f := strings.Fields(line)
	v, _ := strconv.ParseFloat(f[len(f)-1], 64)
	return v
}

// A patient-service replica, then the analytics pod, deleted under load:
// no registration fails with anything but 503 + Retry-After (which the
// client retries with the same Idempotency-Key), and every one is stored
// once with its billing account and analytics event.
func TestLosingAPodLosesNothing(t *testing.T) {
	token := adminToken(t)
	for _, app := range []string{"patient-service", "analytics-service"} {
		t.Run(app, func(t *testing.T) {
			ready := readyPods(t, app)
			victim, replicas := ready[0].Metadata.Name, len(ready)
			l := startLoad(token, 20, 0, true)
			time.Sleep(5 * time.Second)
			mustKubectl(t, "-n", namespace, "delete", "pod", victim, "--wait=false")
			wait.Until(t, 3*time.Minute, fmt.Sprintf("%s back at %d ready replicas", app, replicas), func() error {
				ready := readyPods(t, app)
				for _, p := range ready {
					if p.Metadata.Name == victim {
						return fmt.Errorf("%s still ready", victim)
					}
				}
				if len(ready) < replicas {
					return fmt.Errorf("%d ready", len(ready))
				}
				return nil
			})
			time.Sleep(5 * time.Second)
			regs := l.finish()
			retried := 0
			for _, r := range regs {
				retried += r.retried
			}
			t.Logf("%d registrations, %d answers were 503 + Retry-After and retried", len(regs), retried)
			requireAllStoredOnce(t, token, regs)
		})
	}
}

// `kubectl rollout restart` of every app Deployment under a steady load:
// not one request fails (no 503 either), and every 201 is stored. The
// restart also rotates every app's app API token and Dapr API token
// (docs/runbooks/rotate-signing-keys.md, "App and Dapr API tokens"): both
// are pod-local, so new pods start with the new secrets while old pods
// finish with the old ones.
func TestRollingRestartFailsNoRequest(t *testing.T) {
	token := adminToken(t)
	l := startLoad(token, 20, 0, false)
	time.Sleep(3 * time.Second)
	for _, app := range apps {
		for _, name := range []string{app + "-app-api-token", app + "-dapr-api-token"} {
			b := make([]byte, 32)
			_, err := rand.Read(b)
			require.NoError(t, err)
			rotated := hex.EncodeToString(b)
			mustKubectl(t, "-n", namespace, "patch", "secret", name, "-p", `{"stringData":{"token":"`+rotated+`"}}`)
			require.Equal(t, rotated, secret(t, name, "token"))
		}
		mustKubectl(t, "-n", namespace, "rollout", "restart", "deployment/"+app)
	}
	for _, app := range apps {
		mustKubectl(t, "-n", namespace, "rollout", "status", "deployment/"+app, "--timeout=5m")
	}
	time.Sleep(5 * time.Second)
	regs := l.finish()
	t.Logf("%d registrations during the restart of every Deployment", len(regs))
	requireAllStoredOnce(t, token, regs)
}
