// Command coredns is the one-node cluster's DNS (tools/cluster): CoreDNS
// of the pinned release with only the plugins its Corefile uses, so
// pods resolve *.svc.cluster.local names as Dapr needs. Kept out of
// go.work; the Makefile builds it once into .cache/.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/ready"
)

// The plugins in the order CoreDNS chains them (its plugin.cfg).
func init() {
	dnsserver.Directives = []string{"bind", "ready", "health", "errors", "cache", "kubernetes", "forward"}
}

func main() { coremain.Run() }
