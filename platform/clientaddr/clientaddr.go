// Package clientaddr is the system's one rule for which address a request
// comes from (auth-service throttles logins by it). The edge (the gateway)
// resolves it: the peer, unless the peer is a trusted proxy (an ingress
// controller), in which case the nearest address in X-Forwarded-For that is
// not itself a trusted proxy, read from the right. The edge then forwards
// exactly that one address as X-Forwarded-For; services behind it read it
// back with Forwarded (Dapr appends its own hops after it).
package clientaddr

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Header carries the client address from the edge to the services.
const Header = "X-Forwarded-For"

// Proxies are the trusted proxies in front of the edge.
type Proxies []netip.Prefix

// ParseProxies reads a comma-separated list of addresses and CIDR prefixes.
func ParseProxies(list string) (Proxies, error) {
	var out Proxies
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, err
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// EnvDecode reads the list from a configuration variable (go-envconfig).
func (p *Proxies) EnvDecode(v string) error {
	list, err := ParseProxies(v)
	*p = list
	return err
}

// Resolve is the address of the client r comes from, at the edge. Without
// trusted proxies, X-Forwarded-For is ignored: anyone can write it.
func (p Proxies) Resolve(r *http.Request) string {
	host := peer(r)
	a, err := netip.ParseAddr(host)
	if err != nil || !p.trusts(a) {
		return host
	}
	var hops []string
	for _, v := range r.Header.Values(Header) {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a malformed hop: trust nothing left of it
		}
		if !p.trusts(a) {
			return a.Unmap().String()
		}
	}
	return host
}

// FromProxy reports whether r came straight from one of the trusted proxies.
func (p Proxies) FromProxy(r *http.Request) bool {
	a, err := netip.ParseAddr(peer(r))
	return err == nil && p.trusts(a)
}

// Forwarded is the client address behind the edge: the first entry of
// X-Forwarded-For, which the edge wrote (only the edge may invoke the
// routes that use it; Dapr's access control enforces that), else the peer.
func Forwarded(r *http.Request) string {
	if xff := r.Header.Get(Header); xff != "" {
		return strings.TrimSpace(strings.Split(xff, ",")[0])
	}
	return peer(r)
}

func peer(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (p Proxies) trusts(a netip.Addr) bool {
	a = a.Unmap()
	for _, pr := range p {
		if pr.Contains(a) {
			return true
		}
	}
	return false
}
