// Package cluster checks the system deployed on a real one-node Kubernetes
// cluster (`make test-cluster`: tools/cluster starts the node, installs
// Dapr with its Helm chart and applies infrastructure/k8s/overlays/one-node).
// Everything is checked from outside the cluster, the way an operator and
// a client see it: kubectl, and HTTP to the gateway's NodePort on
// 127.0.0.1. Without PMS_CLUSTER_KUBECONFIG the package skips.
package cluster

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/tests/internal/wait"
)

const (
	namespace = "pms-dev"
	gateway   = "http://127.0.0.1:30404"
)

// apps are the system's Deployments, each with a Dapr sidecar.
var apps = []string{"api-gateway", "auth-service", "patient-service", "billing-service", "analytics-service"}

var kubeconfig = os.Getenv("PMS_CLUSTER_KUBECONFIG")

func TestMain(m *testing.M) {
	if kubeconfig == "" {
		fmt.Println("cluster: skipped: PMS_CLUSTER_KUBECONFIG is not set (make test-cluster starts a cluster and sets it)")
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// kubectl runs kubectl against the cluster and returns its standard output.
func kubectl(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl", args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}

func mustKubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := kubectl(args...)
	require.NoError(t, err)
	return out
}

// secret returns one key of a Secret in the system's namespace, decoded.
func secret(t *testing.T, name, key string) string {
	t.Helper()
	enc := mustKubectl(t, "-n", namespace, "get", "secret", name, "-o", "jsonpath={.data."+strings.ReplaceAll(key, ".", `\.`)+"}")
	raw, err := base64.StdEncoding.DecodeString(enc)
	require.NoError(t, err)
	return string(raw)
}

// psql runs one query as the server's admin in the in-cluster PostgreSQL
// (over its socket, inside the pod) and returns the unaligned output.
func psql(t *testing.T, db, query string) string {
	t.Helper()
	return strings.TrimSpace(mustKubectl(t, "-n", namespace, "exec", "deploy/postgres", "--",
		"psql", "-U", "postgres", "-d", db, "-v", "ON_ERROR_STOP=1", "-tAc", query))
}

var client = &http.Client{Timeout: 30 * time.Second}

type response struct {
	status int
	header http.Header
	body   []byte
}

func call(method, url, token string, body any, headers ...string) (response, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return response{}, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return response{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}, err
}

func mustCall(t *testing.T, method, url, token string, body any, headers ...string) response {
	t.Helper()
	r, err := call(method, url, token, body, headers...)
	require.NoError(t, err)
	return r
}

// adminToken logs in as the bootstrap admin, whose password is read from
// the auth-bootstrap-admin Secret as docs/operations/kubernetes.md says.
func adminToken(t *testing.T) string {
	t.Helper()
	email, password := secret(t, "auth-bootstrap-admin", "email"), secret(t, "auth-bootstrap-admin", "password")
	var r response
	wait.Until(t, time.Minute, "admin login", func() error {
		var err error
		r, err = call(http.MethodPost, gateway+"/auth/login", "", map[string]string{"email": email, "password": password})
		if err == nil && r.status != http.StatusOK {
			err = fmt.Errorf("status %d: %s", r.status, r.body)
		}
		return err
	})
	var s struct {
		AccessToken string `json:"accessToken"`
	}
	require.NoError(t, json.Unmarshal(r.body, &s))
	require.NotEmpty(t, s.AccessToken)
	return s.AccessToken
}

type pod struct {
	Metadata struct {
		Name              string            `json:"name"`
		Labels            map[string]string `json:"labels"`
		DeletionTimestamp *string           `json:"deletionTimestamp"`
	} `json:"metadata"`
	Spec struct {
		Containers []struct {
			Name string `json:"name"`
		} `json:"containers"`
	} `json:"spec"`
	Status struct {
		PodIP      string `json:"podIP"`
		Phase      string `json:"phase"`
		Conditions []struct {
			Type   string `json:"type"`
			Status string `json:"status"`
		} `json:"conditions"`
	} `json:"status"`
}

func (p pod) ready() bool {
	for _, c := range p.Status.Conditions {
		if c.Type == "Ready" {
			return c.Status == "True" && p.Metadata.DeletionTimestamp == nil
		}
	}
	return false
}

// pods lists the app's pods, ready or not.
func pods(t *testing.T, app string) []pod {
	t.Helper()
	var list struct {
		Items []pod `json:"items"`
	}
	out := mustKubectl(t, "-n", namespace, "get", "pods", "-l", "app.kubernetes.io/name="+app, "-o", "json")
	require.NoError(t, json.Unmarshal([]byte(out), &list))
	return list.Items
}

func readyPods(t *testing.T, app string) []pod {
	t.Helper()
	var ready []pod
	for _, p := range pods(t, app) {
		if p.ready() {
			ready = append(ready, p)
		}
	}
	return ready
}

// scale sets an app's replicas and waits until exactly that many pods run
// and are ready.
func scale(t *testing.T, app string, n int) {
	t.Helper()
	mustKubectl(t, "-n", namespace, "scale", "deployment", app, fmt.Sprintf("--replicas=%d", n))
	wait.Until(t, 3*time.Minute, fmt.Sprintf("%s at %d ready replicas", app, n), func() error {
		all, ready := pods(t, app), readyPods(t, app)
		if len(all) != n || len(ready) != n {
			return fmt.Errorf("%d pods, %d ready", len(all), len(ready))
		}
		return nil
	})
}
