package deploy

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Every object of every overlay is accepted by a real Kubernetes API server
// (etcd and kube-apiserver on loopback, Dapr's CRDs from the pinned dapr
// module) with server-side apply and strict field validation: a dry run,
// then for real, so CRD schemas, admission and defaulting all run. Go
// types carry none of a CRD's OpenAPI rules, so only this catches, for
// example, an app Configuration with an mtls section.
func TestManifestsAreAcceptedByAKubernetesAPIServer(t *testing.T) {
	apiserver, etcd := os.Getenv("KUBE_APISERVER"), os.Getenv("ETCD")
	if apiserver == "" || etcd == "" {
		t.Fatal("KUBE_APISERVER and ETCD must name the kube-apiserver and etcd binaries: run `make test-deploy`")
	}
	cfg := startControlPlane(t, etcd, apiserver)
	dyn, err := dynamic.NewForConfig(cfg)
	require.NoError(t, err)
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	require.NoError(t, err)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc))

	installDaprCRDs(t, dyn)
	mapper.Reset()
	for _, o := range []string{"overlays/dev", "overlays/prod"} { // one-node: applied to a real cluster by make test-cluster
		t.Run(o, func(t *testing.T) {
			objs := kustomized(t, k8sDir(t, o))
			// Namespaces first, for real: the rest cannot be admitted without.
			for _, obj := range objs {
				if obj.GetKind() == "Namespace" {
					require.NoError(t, apply(t, dyn, mapper, obj, false), "Namespace %s", obj.GetName())
				}
			}
			for _, dryRun := range []bool{true, false} {
				accepted := 0
				for _, obj := range objs {
					if err := apply(t, dyn, mapper, obj, dryRun); err != nil {
						t.Errorf("%s %s/%s (dry run %t): %v", o, obj.GetKind(), obj.GetName(), dryRun, err)
						continue
					}
					accepted++
				}
				t.Logf("%s: %d of %d objects accepted (dry run %t)", o, accepted, len(objs), dryRun)
			}
		})
	}
}

// apply server-side applies obj with strict field validation.
func apply(t *testing.T, dyn dynamic.Interface, mapper *restmapper.DeferredDiscoveryRESTMapper, obj *unstructured.Unstructured, dryRun bool) error {
	t.Helper()
	gvk := obj.GroupVersionKind()
	m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return fmt.Errorf("no resource for %s: %w", gvk, err)
	}
	raw, err := json.Marshal(obj.Object)
	if err != nil {
		return err
	}
	opts := metav1.PatchOptions{FieldManager: "pms-deploy-test", Force: ptr(true), FieldValidation: "Strict"}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
	if m.Scope.Name() == "namespace" {
		ri = dyn.Resource(m.Resource).Namespace(obj.GetNamespace())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = ri.Patch(ctx, obj.GetName(), types.ApplyPatchType, raw, opts)
	return err
}

func ptr[T any](v T) *T { return &v }

// kustomized builds dir into its objects.
func kustomized(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	require.NoError(t, err)
	var objs []*unstructured.Unstructured
	for _, r := range m.Resources() {
		fields, err := r.Map()
		require.NoError(t, err)
		objs = append(objs, &unstructured.Unstructured{Object: fields})
	}
	return objs
}

// installDaprCRDs applies the CRDs of the pinned dapr module and waits
// until each is established.
func installDaprCRDs(t *testing.T, dyn dynamic.Interface) {
	t.Helper()
	list := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/dapr/dapr")
	list.Env = append(os.Environ(), "GOWORK=off")
	out, err := list.Output()
	require.NoError(t, err, "locate the dapr module")
	files, err := filepath.Glob(filepath.Join(strings.TrimSpace(string(out)), "charts", "dapr", "crds", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	crds := dyn.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
	var names []string
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, doc := range strings.Split(string(raw), "\n---") {
			var fields map[string]any
			require.NoError(t, yaml.Unmarshal([]byte(doc), &fields), f)
			if fields == nil {
				continue
			}
			obj := &unstructured.Unstructured{Object: fields}
			js, err := json.Marshal(obj.Object)
			require.NoError(t, err)
			_, err = crds.Patch(context.Background(), obj.GetName(), types.ApplyPatchType, js,
				metav1.PatchOptions{FieldManager: "pms-deploy-test", Force: ptr(true)})
			require.NoError(t, err, "CRD %s", obj.GetName())
			names = append(names, obj.GetName())
		}
	}
	require.Eventually(t, func() bool {
		for _, n := range names {
			crd, err := crds.Get(context.Background(), n, metav1.GetOptions{})
			if err != nil {
				return false
			}
			conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
			ok := false
			for _, c := range conds {
				if m, _ := c.(map[string]any); m["type"] == "Established" && m["status"] == "True" {
					ok = true
				}
			}
			if !ok {
				return false
			}
		}
		return true
	}, 30*time.Second, 200*time.Millisecond, "Dapr's CRDs are established")
}

// startControlPlane starts etcd and kube-apiserver on loopback for the
// test and returns a client configuration with an admin token.
func startControlPlane(t *testing.T, etcdBin, apiserverBin string) *rest.Config {
	t.Helper()
	dir := t.TempDir()
	clientPort, peerPort, apiPort := freePort(t), freePort(t), freePort(t)
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", clientPort)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	start(t, filepath.Join(dir, "etcd.log"), etcdBin, "--name", "default", "--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "default="+peerURL, "--unsafe-no-fsync", "--log-level", "warn")

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	keyFile := filepath.Join(dir, "sa.key")
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600))
	const token = "deploy-test-admin-token"
	tokens := filepath.Join(dir, "tokens.csv")
	require.NoError(t, os.WriteFile(tokens, []byte(token+`,deploy-test,1,"system:masters"`+"\n"), 0o600))
	certs := filepath.Join(dir, "certs")
	start(t, filepath.Join(dir, "apiserver.log"), apiserverBin,
		"--etcd-servers", etcdURL, "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
		"--secure-port", fmt.Sprint(apiPort), "--cert-dir", certs, "--token-auth-file", tokens,
		"--authorization-mode", "RBAC", "--service-cluster-ip-range", "10.96.0.0/16",
		"--service-account-issuer", "https://kubernetes.default.svc", "--service-account-key-file", keyFile,
		"--service-account-signing-key-file", keyFile)

	cfg := &rest.Config{Host: fmt.Sprintf("https://127.0.0.1:%d", apiPort), BearerToken: token,
		TLSClientConfig: rest.TLSClientConfig{Insecure: true}} // its self-signed certificate, on loopback
	client, err := rest.HTTPClientFor(cfg)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		req, _ := http.NewRequest(http.MethodGet, cfg.Host+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 60*time.Second, 250*time.Millisecond, "kube-apiserver becomes ready (log: %s)", filepath.Join(dir, "apiserver.log"))
	return cfg
}

// start runs a process for the test's duration, logging to logFile.
func start(t *testing.T, logFile, bin string, args ...string) {
	t.Helper()
	log, err := os.Create(logFile)
	require.NoError(t, err)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	require.NoError(t, cmd.Start(), "start %s", bin)
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		log.Close()
	})
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
