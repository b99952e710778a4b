package clientaddr_test

import (
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/pms-dapr/pms/platform/clientaddr"
)

// Behind the edge, the address is the one the edge wrote first; Dapr's
// hops come after it.
func TestForwardedIsTheEdgesAddress(t *testing.T) {
	r := httptest.NewRequest("POST", "/login", nil)
	r.RemoteAddr = "127.0.0.1:5555"
	assert.Equal(t, "127.0.0.1", clientaddr.Forwarded(r), "no header: the peer")
	r.Header.Set(clientaddr.Header, "198.51.100.9, 10.244.0.7")
	assert.Equal(t, "198.51.100.9", clientaddr.Forwarded(r))
}

func TestResolveIgnoresTheHeaderWithoutTrustedProxies(t *testing.T) {
	r := httptest.NewRequest("POST", "/auth/login", nil)
	r.RemoteAddr = "203.0.113.5:1234"
	r.Header.Set(clientaddr.Header, "1.2.3.4")
	assert.Equal(t, "203.0.113.5", clientaddr.Proxies(nil).Resolve(r))
}
