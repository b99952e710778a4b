package deploy

import (
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
	corev1 "k8s.io/api/core/v1"
)

// settings is the pms-settings ConfigMap every app reads.
func (b built) settings(t *testing.T) map[string]string {
	t.Helper()
	for _, c := range b.configMaps {
		if strings.HasPrefix(c.Name, "pms-settings") {
			return c.Data
		}
	}
	t.Fatal("no pms-settings ConfigMap")
	return nil
}

// Every overlay serves each app's /metrics on the port its Deployment names
// "metrics". Without the observability component nothing is traced (no
// exporter: sampling would only cost CPU); with it (the one-node overlay)
// every app and every sidecar exports to the trace store's Service at one
// rate, and Prometheus's discovery names every app.
func TestObservabilityComponentTracesAndScrapesEveryApp(t *testing.T) {
	for _, o := range overlays {
		t.Run(o, func(t *testing.T) {
			b := build(t, k8sDir(t, o))
			settings := b.settings(t)
			_, metricsPort, err := net.SplitHostPort(settings["METRICS_ADDR"])
			require.NoError(t, err, "METRICS_ADDR")
			for _, d := range b.deployments {
				if d.Labels["app.kubernetes.io/part-of"] != "pms" {
					continue
				}
				c := d.Spec.Template.Spec.Containers[0]
				i := slices.IndexFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == "metrics" })
				require.GreaterOrEqual(t, i, 0, "%s: a container port named metrics", d.Name)
				assert.Equal(t, metricsPort, itoa(int(c.Ports[i].ContainerPort)), "%s: the metrics port is METRICS_ADDR's", d.Name)
			}

			traced := o == "overlays/one-node"
			for _, c := range b.configs {
				if !traced {
					assert.Equal(t, "0", c.Spec.TracingSpec.SamplingRate, "%s: no exporter, no sampling", c.Name)
					assert.Nil(t, c.Spec.TracingSpec.Otel, c.Name)
					continue
				}
				require.NotNil(t, c.Spec.TracingSpec.Otel, "%s: the sidecar exports its spans", c.Name)
				assert.Equal(t, settings["OTEL_TRACES_SAMPLER_ARG"], c.Spec.TracingSpec.SamplingRate, "%s: the apps' rate", c.Name)
				endpoint, err := url.Parse(settings["OTEL_EXPORTER_OTLP_ENDPOINT"])
				require.NoError(t, err)
				assert.Equal(t, endpoint.Host, c.Spec.TracingSpec.Otel.EndpointAddress, "%s: where the apps export", c.Name)
				assert.Equal(t, "grpc", c.Spec.TracingSpec.Otel.Protocol, c.Name)
			}
			if !traced {
				assert.Empty(t, settings["OTEL_EXPORTER_OTLP_ENDPOINT"])
				return
			}
			// The trace store's Service is where everyone exports.
			host, port, err := net.SplitHostPort(strings.TrimPrefix(settings["OTEL_EXPORTER_OTLP_ENDPOINT"], "http://"))
			require.NoError(t, err)
			assert.Equal(t, "4317", port)
			assert.Contains(t, deploymentNames(b), host)
			assert.Contains(t, deploymentNames(b), "prometheus")
		})
	}
}

func deploymentNames(b built) []string {
	var names []string
	for _, d := range b.deployments {
		names = append(names, d.Name)
	}
	return names
}

// Prometheus on Kubernetes discovers every app of the run template through
// its <app>-dapr Service, scrapes the apps on METRICS_ADDR's port and the
// sidecars on Dapr's, and loads the rules `make alerts-check` tests.
func TestKubernetesPrometheusScrapesEveryApp(t *testing.T) {
	dir := filepath.Join(root(t), "infrastructure", "observability")
	raw, err := os.ReadFile(filepath.Join(dir, "prometheus-kubernetes.yml"))
	require.NoError(t, err)
	var cfg struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName      string `yaml:"job_name"`
			DNSSDConfigs []struct {
				Names []string
				Type  string
				Port  int
			} `yaml:"dns_sd_configs"`
		} `yaml:"scrape_configs"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &cfg))
	assert.Equal(t, []string{"/etc/prometheus/alerts.yml"}, cfg.RuleFiles)

	var want []string
	for _, a := range templateApps(t) {
		want = append(want, a.AppID+"-dapr")
	}
	_, metricsPort, err := net.SplitHostPort(build(t, k8sDir(t, "base")).settings(t)["METRICS_ADDR"])
	require.NoError(t, err)
	ports := map[string]string{"pms": metricsPort, "dapr": "9090"}
	require.Len(t, cfg.ScrapeConfigs, len(ports))
	for _, sc := range cfg.ScrapeConfigs {
		require.Len(t, sc.DNSSDConfigs, 1, sc.JobName)
		d := sc.DNSSDConfigs[0]
		assert.ElementsMatch(t, want, d.Names, "%s: every app's pods", sc.JobName)
		assert.Equal(t, "A", d.Type, sc.JobName)
		assert.Equal(t, ports[sc.JobName], itoa(d.Port), sc.JobName)
	}
}
