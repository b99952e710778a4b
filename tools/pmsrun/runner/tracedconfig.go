package runner

import (
	"fmt"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

// tracedConfig writes, under dir, a copy of the sidecar Configuration at
// path whose tracing samples every request and exports it over OTLP (gRPC,
// plain text on loopback) to endpoint, and returns the copy's path.
func tracedConfig(path, dir, endpoint string) (string, error) {
	return TracedConfig(path, dir, endpoint, "1", "")
}

// TracedConfig writes, under dir, a copy of the sidecar Configuration at
// path whose tracing samples at rate (parent-based, as Dapr samples) and
// exports over OTLP (gRPC, plain text) to endpoint, after a header comment,
// and returns the copy's path.
func TracedConfig(path, dir, endpoint, rate, header string) (string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	spec, _ := doc["spec"].(map[string]any)
	if spec == nil {
		spec = map[string]any{}
		doc["spec"] = spec
	}
	spec["tracing"] = map[string]any{
		"samplingRate": rate,
		"otel":         map[string]any{"endpointAddress": endpoint, "isSecure": false, "protocol": "grpc"},
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	target := filepath.Join(dir, filepath.Base(path))
	return target, os.WriteFile(target, append([]byte(header), out...), 0o644)
}
