// Command kube-apiserver is the Kubernetes API server of the pinned
// k8s.io/kubernetes release (every k8s.io staging module replaced by its
// published version), built so the deployment tests can apply the
// manifests to a real API server without a cluster. Kept out of go.work;
// `make test-deploy` builds it once into .cache/.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
