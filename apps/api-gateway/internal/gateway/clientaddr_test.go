package gateway_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/apps/api-gateway/internal/gateway"
	"github.com/pms-dapr/pms/platform/clientaddr"
)

// The address auth-service throttles logins by is the peer, unless the
// peer is a trusted proxy; then the nearest untrusted hop it reports. A
// client cannot choose it by writing X-Forwarded-For.
func TestClientAddressBehindTrustedProxies(t *testing.T) {
	trusted, err := clientaddr.ParseProxies("10.0.0.0/8, 192.0.2.7")
	require.NoError(t, err)
	_, err = clientaddr.ParseProxies("not-an-address")
	assert.Error(t, err)
	for name, tc := range map[string]struct {
		peer string
		xff  []string
		want string
	}{
		"direct client, spoofed header":    {"203.0.113.5:1234", []string{"1.2.3.4"}, "203.0.113.5"},
		"through the ingress":              {"10.1.2.3:1234", []string{"198.51.100.9"}, "198.51.100.9"},
		"client prepends a lie":            {"10.1.2.3:1234", []string{"1.2.3.4, 198.51.100.9"}, "198.51.100.9"},
		"two trusted hops":                 {"10.1.2.3:1234", []string{"198.51.100.9, 192.0.2.7"}, "198.51.100.9"},
		"several headers":                  {"10.1.2.3:1234", []string{"1.2.3.4", "198.51.100.9"}, "198.51.100.9"},
		"malformed hop":                    {"10.1.2.3:1234", []string{"garbage"}, "10.1.2.3"},
		"trusted proxy without the header": {"10.1.2.3:1234", nil, "10.1.2.3"},
		"only trusted hops":                {"10.1.2.3:1234", []string{"10.9.9.9"}, "10.1.2.3"},
	} {
		t.Run(name, func(t *testing.T) {
			sidecar, got := fakeSidecar(t, http.StatusOK, "application/json", `{}`)
			srv := routesWith(gateway.Config{Sidecar: sidecar, DaprAPIToken: daprToken, TrustedProxies: trusted},
				func(h http.Handler) http.Handler { return h })
			req := httptest.NewRequest(http.MethodPost, "/auth/login", nil)
			req.RemoteAddr = tc.peer
			for _, v := range tc.xff {
				req.Header.Add("X-Forwarded-For", v)
			}
			srv.ServeHTTP(httptest.NewRecorder(), req)
			require.Equal(t, "/login", got.path)
			assert.Equal(t, tc.want, got.xff)
		})
	}
}
