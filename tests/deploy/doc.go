// Package deploy checks the deployment artifacts (Dockerfile, Docker Compose,
// Kubernetes manifests, CloudFormation) with the libraries of their own
// ecosystems, against the single source of truth: dapr.yaml and the
// component manifests. Neither Docker nor a cluster is needed. The module
// stays out of go.work: its Kubernetes and Dapr dependencies would
// otherwise raise every app's dependency versions.
package deploy
