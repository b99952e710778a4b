package deploy

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	componentsapi "github.com/dapr/dapr/pkg/apis/components/v1alpha1"
	configurationapi "github.com/dapr/dapr/pkg/apis/configuration/v1alpha1"
	resiliencyapi "github.com/dapr/dapr/pkg/apis/resiliency/v1alpha1"
	subscriptionsapi "github.com/dapr/dapr/pkg/apis/subscriptions/v2alpha1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// built is one kustomization, decoded strictly into its real types.
type built struct {
	deployments   []appsv1.Deployment
	jobs          []batchv1.Job
	components    []componentsapi.Component
	configs       []configurationapi.Configuration
	resiliencies  []resiliencyapi.Resiliency
	subscriptions []subscriptionsapi.Subscription
	configMaps    []corev1.ConfigMap
	ingresses     []networkingv1.Ingress
	kinds         map[string]int
}

// decodeStrict fails on any field the type does not have.
func decodeStrict(t *testing.T, raw []byte, into any, what string) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(into), "%s does not decode strictly", what)
}

func build(t *testing.T, dir string) built {
	t.Helper()
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	require.NoError(t, err, "kustomize build %s", dir)
	b := built{kinds: map[string]int{}}
	for _, r := range m.Resources() {
		raw, err := r.MarshalJSON()
		require.NoError(t, err)
		what := r.GetKind() + "/" + r.GetName()
		b.kinds[r.GetKind()]++
		switch r.GetGvk().Group + "/" + r.GetKind() {
		case "apps/Deployment":
			var d appsv1.Deployment
			decodeStrict(t, raw, &d, what)
			b.deployments = append(b.deployments, d)
		case "batch/Job":
			var j batchv1.Job
			decodeStrict(t, raw, &j, what)
			b.jobs = append(b.jobs, j)
		case "/Service":
			decodeStrict(t, raw, &corev1.Service{}, what)
		case "/ConfigMap":
			var c corev1.ConfigMap
			decodeStrict(t, raw, &c, what)
			b.configMaps = append(b.configMaps, c)
		case "/Namespace":
			decodeStrict(t, raw, &corev1.Namespace{}, what)
		case "networking.k8s.io/Ingress":
			var i networkingv1.Ingress
			decodeStrict(t, raw, &i, what)
			b.ingresses = append(b.ingresses, i)
		case "networking.k8s.io/NetworkPolicy":
			decodeStrict(t, raw, &networkingv1.NetworkPolicy{}, what)
		case "policy/PodDisruptionBudget":
			decodeStrict(t, raw, &policyv1.PodDisruptionBudget{}, what)
		case "autoscaling/HorizontalPodAutoscaler":
			decodeStrict(t, raw, &autoscalingv2.HorizontalPodAutoscaler{}, what)
		case "dapr.io/Component":
			var c componentsapi.Component
			decodeStrict(t, raw, &c, what)
			b.components = append(b.components, c)
		case "dapr.io/Configuration":
			var c configurationapi.Configuration
			decodeStrict(t, raw, &c, what)
			b.configs = append(b.configs, c)
		case "dapr.io/Resiliency":
			var c resiliencyapi.Resiliency
			decodeStrict(t, raw, &c, what)
			b.resiliencies = append(b.resiliencies, c)
		case "dapr.io/Subscription":
			var s subscriptionsapi.Subscription
			decodeStrict(t, raw, &s, what)
			b.subscriptions = append(b.subscriptions, s)
		default:
			t.Errorf("%s: no type to check %s against", what, r.GetGvk())
		}
	}
	return b
}

type workload struct {
	name     string
	template corev1.PodTemplateSpec
}

// workloads are the Deployments' and Jobs' pod templates.
func (b built) workloads() []workload {
	var w []workload
	for _, d := range b.deployments {
		w = append(w, workload{"Deployment " + d.Name, d.Spec.Template})
	}
	for _, j := range b.jobs {
		w = append(w, workload{"Job " + j.Name, j.Spec.Template})
	}
	return w
}

// envSecret is the Secret and key env var name comes from in c, if any.
func envSecret(c corev1.Container, name string) (secret, key string) {
	for _, e := range c.Env {
		if e.Name == name && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			return e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key
		}
	}
	return "", ""
}

// Each service with a database has a migration Job on its own image with
// the owner's login; the service itself gets only its runtime login.
func TestMigrationsRunAsJobsWithTheOwnersLogin(t *testing.T) {
	for _, o := range overlays {
		b := build(t, k8sDir(t, o))
		jobs := map[string]batchv1.Job{}
		for _, j := range b.jobs {
			jobs[j.Name] = j
		}
		migrated := 0
		for _, d := range b.deployments {
			app := d.Spec.Template.Spec.Containers[0]
			secret, key := envSecret(app, "DATABASE_URL")
			for _, e := range app.Env {
				assert.False(t, strings.HasPrefix(e.Name, "MIGRATE_"), "%s: %s holds a migration login", o, d.Name)
			}
			if secret == "" {
				continue
			}
			migrated++
			assert.Equal(t, "pms-database-urls", secret, "%s: %s runs as its runtime login", o, d.Name)
			j, ok := jobs[d.Name+"-migrate"]
			require.True(t, ok, "%s: Job %s-migrate", o, d.Name)
			c := j.Spec.Template.Spec.Containers[0]
			assert.Equal(t, app.Image, c.Image, "%s: %s migrates with its own image", o, d.Name)
			assert.Equal(t, []string{"migrate"}, c.Args)
			ownerSecret, ownerKey := envSecret(c, "MIGRATE_DATABASE_URL")
			assert.Equal(t, "pms-database-owner-urls", ownerSecret, "%s: %s-migrate uses the owner's login", o, d.Name)
			assert.Equal(t, key, ownerKey, "%s: the same database", d.Name)
			assert.Equal(t, "pms", j.Spec.Template.Labels["app.kubernetes.io/part-of"], "%s: the Job's pods get the egress policy", j.Name)
			assert.True(t, *j.Spec.Template.Spec.SecurityContext.RunAsNonRoot, j.Name)
		}
		assert.Equal(t, 4, migrated, o)
		assert.Len(t, b.jobs, 4, o)
	}
}

var overlays = []string{"base", "overlays/dev", "overlays/prod", "overlays/one-node"}

func k8sDir(t *testing.T, sub string) string {
	return filepath.Join(root(t), "infrastructure", "k8s", sub)
}

func TestEveryAppHasOneDeploymentMatchingTheRunTemplate(t *testing.T) {
	for _, o := range overlays {
		t.Run(o, func(t *testing.T) {
			b := build(t, k8sDir(t, o))
			configs := map[string]bool{}
			for _, c := range b.configs {
				configs[c.Name] = true
			}
			for _, a := range templateApps(t) {
				var found []appsv1.Deployment
				for _, d := range b.deployments {
					if d.Spec.Template.Annotations["dapr.io/app-id"] == a.AppID {
						found = append(found, d)
					}
				}
				require.Len(t, found, 1, "%s: exactly one Deployment", a.AppID)
				ann := found[0].Spec.Template.Annotations
				assert.Equal(t, "true", ann["dapr.io/enabled"], a.AppID)
				assert.Equal(t, itoa(a.AppPort), ann["dapr.io/app-port"], a.AppID)
				assert.Equal(t, a.AppProtocol, ann["dapr.io/app-protocol"], a.AppID)
				assert.Equal(t, a.AppID, ann["dapr.io/config"], "%s: its own Configuration", a.AppID)
				assert.True(t, configs[ann["dapr.io/config"]], "%s: dapr.io/config names a Configuration", a.AppID)
				assert.Equal(t, "true", ann["dapr.io/disable-builtin-k8s-secret-store"], a.AppID)
				c := found[0].Spec.Template.Spec.Containers[0]
				require.NotNil(t, c.ReadinessProbe, a.AppID)
				require.NotNil(t, c.LivenessProbe, a.AppID)
				assert.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path, a.AppID)
				assert.Equal(t, "/healthz", c.LivenessProbe.HTTPGet.Path, a.AppID)
				listen := ""
				for _, e := range c.Env {
					if e.Name == "LISTEN_HOST" {
						listen = e.Value
					}
				}
				assert.Equal(t, "0.0.0.0", listen, "%s: apps listen on loopback unless told, and the kubelet's probes come from the node", a.AppID)
				assert.False(t, c.Resources.Limits.Memory().IsZero(), "%s has limits", a.AppID)
				checkGracefulShutdown(t, a.AppID, found[0])
				assert.NotEmpty(t, ann["dapr.io/sidecar-memory-limit"], a.AppID)
			}
			assert.Equal(t, 2, b.kinds["PodDisruptionBudget"])
			assert.Equal(t, 2, b.kinds["HorizontalPodAutoscaler"])
			assert.Equal(t, 1, b.kinds["Ingress"])
			require.Len(t, b.configs, len(templateApps(t)), "one Configuration per app")
			for _, c := range b.configs {
				assert.Nil(t, c.Spec.MTLSSpec, "%s: mTLS belongs to the control plane's daprsystem Configuration", c.Name)
			}
			// The one-node overlay adds who may reach its in-cluster
			// PostgreSQL and Kafka, and PostgreSQL its backup repository
			// (4), and the observability component's (4).
			policies := map[string]int{"overlays/one-node": 15}[o]
			if policies == 0 {
				policies = 7
			}
			assert.Equal(t, policies, b.kinds["NetworkPolicy"])
		})
	}
}

// checkGracefulShutdown checks the order docs/operations/kubernetes.md
// describes. An app other apps invoke through Dapr stops after its sidecar
// stops taking their requests, which it takes for as long as callers may
// still pick its address. The gateway, which clients reach through its Service,
// stops and drains while its sidecar still serves its calls out. All of it
// within the grace period.
func checkGracefulShutdown(t *testing.T, app string, d appsv1.Deployment) {
	t.Helper()
	const appDrain = 10 * time.Second // httpserver.ShutdownTimeout
	ann := d.Spec.Template.Annotations
	block, err := time.ParseDuration(ann["dapr.io/block-shutdown-duration"])
	require.NoError(t, err, "%s: dapr.io/block-shutdown-duration", app)
	sidecarDrain, err := strconv.Atoi(ann["dapr.io/graceful-shutdown-seconds"])
	require.NoError(t, err, "%s: dapr.io/graceful-shutdown-seconds", app)
	c := d.Spec.Template.Spec.Containers[0]
	require.NotNil(t, c.Lifecycle, app)
	require.NotNil(t, c.Lifecycle.PreStop, app)
	require.NotNil(t, c.Lifecycle.PreStop.Sleep, "%s: preStop sleeps", app)
	preStop := time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
	last := preStop + appDrain
	if app == "api-gateway" {
		assert.Less(t, last, block, "%s: the app drains before its sidecar stops", app)
		last = block + time.Duration(sidecarDrain)*time.Second
	} else {
		// daprd caches the addresses it resolved for 20 s (resolverCacheTTL
		// in dapr/pkg/messaging): callers may pick this pod that long.
		assert.Greater(t, block, 20*time.Second, "%s: the sidecar serves as long as callers may still pick it", app)
		assert.Greater(t, preStop, block, "%s: the app stops after its sidecar stops taking requests", app)
	}
	grace := d.Spec.Template.Spec.TerminationGracePeriodSeconds
	require.NotNil(t, grace, app)
	assert.GreaterOrEqual(t, time.Duration(*grace)*time.Second, last, "%s: the grace period covers the shutdown", app)
}

func TestDaprResourcesAreScopedToRealApps(t *testing.T) {
	ids := appIDs(t)
	for _, o := range overlays {
		b := build(t, k8sDir(t, o))
		require.NotEmpty(t, b.components, o)
		for _, c := range b.components {
			require.NotEmpty(t, c.Scopes, "%s: Component %s is scoped", o, c.Name)
			for _, s := range c.Scopes {
				assert.True(t, ids[s], "%s: Component %s scope %q is not an app id", o, c.Name, s)
			}
		}
		for _, s := range b.subscriptions {
			// A dead-letter topic's own subscription has none: what it
			// cannot park is redelivered until it can.
			if strings.HasSuffix(s.Spec.Topic, "-deadletter") {
				assert.Empty(t, s.Spec.DeadLetterTopic, "%s: Subscription %s to a dead-letter topic", o, s.Name)
			} else {
				assert.NotEmpty(t, s.Spec.DeadLetterTopic, "%s: Subscription %s has a dead-letter topic", o, s.Name)
			}
			for _, sc := range s.Scopes {
				assert.True(t, ids[sc], "%s: Subscription %s scope %q", o, s.Name, sc)
			}
		}
		for _, r := range b.resiliencies {
			for _, sc := range r.Scopes {
				assert.True(t, ids[sc], "%s: Resiliency %s scope %q", o, r.Name, sc)
			}
		}
	}
	prod := build(t, k8sDir(t, "overlays/prod"))
	md := map[string]string{}
	for _, c := range prod.components {
		if c.Name == "pubsub" {
			for _, m := range c.Spec.Metadata {
				md[m.Name] = m.Value.String()
				if m.SecretKeyRef.Name != "" {
					md[m.Name] = "secret:" + m.SecretKeyRef.Name
				}
			}
		}
	}
	assert.Equal(t, "password", md["authType"], "prod Kafka uses SASL")
	assert.Equal(t, "secret:kafka", md["saslPassword"])
	assert.Equal(t, "false", md["disableTls"], "prod Kafka uses TLS")
}

// requiredSecrets reads a required-secrets.yaml: Secret name → keys.
func requiredSecrets(t *testing.T, path string) map[string][]string {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var declared struct{ Secrets map[string][]string }
	require.NoError(t, yaml.Unmarshal(raw, &declared))
	return declared.Secrets
}

// Every Secret a manifest refers to is in required-secrets.yaml, or in the
// overlay's own required-secrets.yaml for what only that overlay adds.
func TestEverySecretReferenceIsDeclared(t *testing.T) {
	common := requiredSecrets(t, k8sDir(t, "required-secrets.yaml"))
	for _, o := range overlays {
		declared := maps.Clone(common)
		if own := k8sDir(t, o+"/required-secrets.yaml"); fileExists(own) {
			for name, keys := range requiredSecrets(t, own) {
				_, dup := declared[name]
				require.False(t, dup, "%s declares %s again", own, name)
				declared[name] = keys
			}
		}
		checkSecretReferences(t, o, declared)
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func checkSecretReferences(t *testing.T, o string, declared map[string][]string) {
	t.Helper()
	has := func(name, key string) bool {
		keys, ok := declared[name]
		if !ok || key == "" {
			return ok
		}
		for _, k := range keys {
			if k == key {
				return true
			}
		}
		return false
	}
	{
		b := build(t, k8sDir(t, o))
		refs := 0
		check := func(where, name, key string) {
			refs++
			assert.True(t, has(name, key), "%s: %s refers to Secret %s key %q, not in required-secrets.yaml", o, where, name, key)
		}
		for _, w := range b.workloads() {
			spec := w.template.Spec
			for _, c := range spec.Containers {
				for _, e := range c.Env {
					if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
						check(w.name+" env "+e.Name, e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key)
					}
					assert.False(t, e.Value != "" && strings.Contains(strings.ToUpper(e.Name), "TOKEN"), "%s: %s is inlined", w.name, e.Name)
				}
				for _, ef := range c.EnvFrom {
					if ef.SecretRef != nil {
						check(w.name+" envFrom", ef.SecretRef.Name, "")
					}
				}
			}
			for _, v := range spec.Volumes {
				if v.Secret != nil {
					check(w.name+" volume "+v.Name, v.Secret.SecretName, "")
				}
			}
			for _, ann := range []string{"dapr.io/app-token-secret", "dapr.io/api-token-secret"} {
				if n := w.template.Annotations[ann]; n != "" {
					check(w.name+" "+ann, n, "token")
				}
			}
		}
		for _, c := range b.components {
			for _, m := range c.Spec.Metadata {
				if m.SecretKeyRef.Name != "" {
					check("Component "+c.Name+" "+m.Name, m.SecretKeyRef.Name, m.SecretKeyRef.Key)
				}
			}
		}
		assert.Greater(t, refs, 15, "%s: the manifests do reference their secrets", o)
		assert.Zero(t, b.kinds["Secret"], "%s: no Secret is inlined", o)
	}
}

// The gateway's bearer middleware manifest reaches it as a ConfigMap with
// the issuer the overlay serves.
func TestGatewayGetsItsBearerManifest(t *testing.T) {
	for _, o := range overlays {
		b := build(t, k8sDir(t, o))
		var manifest string
		for _, c := range b.configMaps {
			if strings.HasPrefix(c.Name, "jwt-bearer") {
				manifest = c.Data["jwt-bearer.yaml"]
			}
		}
		require.NotEmpty(t, manifest, o)
		var comp componentsapi.Component
		decodeStrict(t, yamlToJSON(t, []byte(manifest)), &comp, o+" jwt-bearer ConfigMap")
		assert.Equal(t, "middleware.http.bearer", comp.Spec.Type)
		md := map[string]string{}
		for _, m := range comp.Spec.Metadata {
			md[m.Name] = m.Value.String()
		}
		issuer := ""
		for _, c := range b.configMaps {
			if strings.HasPrefix(c.Name, "pms-settings") {
				issuer = c.Data["AUTH_ISSUER"]
			}
		}
		assert.Equal(t, issuer, md["issuer"], "%s: the gateway and the services agree on the issuer", o)
		assert.Equal(t, "pms-api", md["audience"], o)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// The local resources (components/, loaded by the sidecars of `make run`)
// decode strictly into the Dapr types too, and are scoped to real apps.
func TestLocalDaprResourcesDecodeStrictly(t *testing.T) {
	ids := appIDs(t)
	files, err := filepath.Glob(filepath.Join(root(t), "components", "*.yaml"))
	require.NoError(t, err)
	configs, err := filepath.Glob(filepath.Join(root(t), "dapr", "config", "*.yaml"))
	require.NoError(t, err)
	files = append(append(files, configs...), filepath.Join(root(t), "dapr", "middleware", "jwt-bearer.yaml"))
	require.GreaterOrEqual(t, len(files), 11)
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		var doc map[string]any
		require.NoError(t, yaml.Unmarshal(raw, &doc), f)
		js := yamlToJSON(t, raw)
		var scopes []string
		switch doc["kind"] {
		case "Component":
			var c componentsapi.Component
			decodeStrict(t, js, &c, f)
			scopes = c.Scopes
		case "Configuration":
			decodeStrict(t, js, &configurationapi.Configuration{}, f)
		case "Resiliency":
			var r resiliencyapi.Resiliency
			decodeStrict(t, js, &r, f)
			scopes = r.Scopes
		case "Subscription":
			var s subscriptionsapi.Subscription
			decodeStrict(t, js, &s, f)
			scopes = s.Scopes
		default:
			t.Errorf("%s: unexpected kind %v", f, doc["kind"])
		}
		for _, s := range scopes {
			assert.True(t, ids[s], "%s: scope %q is not an app id", f, s)
		}
	}
}

func yamlToJSON(t *testing.T, raw []byte) []byte {
	t.Helper()
	var doc map[string]any
	require.NoError(t, yaml.Unmarshal(raw, &doc))
	js, err := json.Marshal(doc)
	require.NoError(t, err)
	return js
}

// The FHIR API's links name the address clients use: the Ingress host over
// https, or on the one-node cluster the gateway's NodePort on 127.0.0.1.
func TestFHIRBaseURLIsWhereClientsReachTheGateway(t *testing.T) {
	for _, o := range overlays {
		b := build(t, k8sDir(t, o))
		base := ""
		for _, c := range b.configMaps {
			if strings.HasPrefix(c.Name, "pms-settings") {
				base = c.Data["FHIR_BASE_URL"]
			}
		}
		if o == "overlays/one-node" {
			assert.Equal(t, "http://127.0.0.1:30404/fhir/R4", base, o)
			continue
		}
		require.Len(t, b.ingresses, 1, o)
		require.NotEmpty(t, b.ingresses[0].Spec.Rules, o)
		assert.Equal(t, "https://"+b.ingresses[0].Spec.Rules[0].Host+"/fhir/R4", base, o)
	}
}
