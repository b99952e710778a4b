// Package kubenode pins the node components and kubectl of the
// k8s.io/kubernetes release tools/kube-apiserver builds (every k8s.io
// staging module replaced by its published version), as go.mod tool
// directives, plus the pod sandbox's pause command, for the one-node
// cluster of `make cluster-up` (tools/cluster). Kept out of go.work; the
// Makefile builds them once into .cache/.
package kubenode
