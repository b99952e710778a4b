// Package daprcontrolplane pins Dapr's Kubernetes control plane (operator,
// sidecar injector, placement, scheduler; Sentry comes from tools/daprd)
// to the same github.com/dapr/dapr release as daprd, as go.mod tool
// directives. The one-node cluster (tools/cluster) packs them into the
// image the Dapr Helm chart runs. Kept out of go.work; the Makefile
// builds them once into .cache/.
package daprcontrolplane
