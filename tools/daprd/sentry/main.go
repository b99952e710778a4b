// Command sentry is Dapr's certificate authority (Sentry), built from the
// same pinned github.com/dapr/dapr module as daprd. The runner starts it on
// loopback so local sidecars talk mTLS, as they do on Kubernetes. Build it
// with `make daprd`.
package main

import "github.com/dapr/dapr/cmd/sentry/app"

func main() {
	app.Run()
}
