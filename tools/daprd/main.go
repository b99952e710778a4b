// Command daprd is the Dapr sidecar runtime, built from the pinned
// github.com/dapr/dapr module so the project needs neither the Dapr CLI nor
// container images to run locally. Build it with `make daprd`.
package main

import "github.com/dapr/dapr/cmd/daprd/app"

func main() {
	app.Run()
}
