// Package helm pins the Helm 3 CLI (a go.mod tool directive) that installs
// Dapr's chart into the one-node cluster (tools/cluster). Kept out of
// go.work; the Makefile builds it once into .cache/.
package helm
