// Command etcd is the etcd server of the pinned go.etcd.io/etcd release,
// the storage the deployment tests' kube-apiserver runs on. Kept out of
// go.work; `make test-deploy` builds it once into .cache/.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
