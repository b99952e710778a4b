// Package authn holds what every service needs to trust a caller: the check
// that a request came through the app's own Dapr sidecar (the app API
// token), verification of the user's access token (JWT) against the
// identity provider's JWKS, and the caller's identity in the context.
package authn

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/pms-dapr/pms/platform/problem"
)

// APITokenHeader carries Dapr API tokens: the sidecar sends the app API
// token to its app, and an app sends the Dapr API token to its sidecar.
const APITokenHeader = "dapr-api-token"

// Role names. What each may do is decided at the gateway (docs/security.md, "Roles").
const (
	RoleAdmin     = "admin"
	RoleClinician = "clinician"
	RoleBilling   = "billing"
)

// Roles lists every valid role.
var Roles = []string{RoleAdmin, RoleClinician, RoleBilling}

// ValidRole reports whether r is one of Roles.
func ValidRole(r string) bool {
	for _, x := range Roles {
		if x == r {
			return true
		}
	}
	return false
}

// Identity is the verified caller.
type Identity struct {
	Subject string // user id
	Email   string
	Role    string
}

type identityKey struct{}

// WithIdentity returns ctx carrying id.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// FromContext returns the caller verified for this request, if any.
func FromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}

// RequireAppToken rejects every request that does not carry token in the
// dapr-api-token header, i.e. that did not come through the app's sidecar.
// httpserver.Router keeps the health routes out of its reach: probes carry
// no token.
func RequireAppToken(token string) func(http.Handler) http.Handler {
	want := []byte(token)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got := []byte(r.Header.Get(APITokenHeader))
			if len(want) == 0 || subtle.ConstantTimeCompare(got, want) != 1 {
				problem.Write(w, r, problem.New(http.StatusUnauthorized, "This service only answers requests that come through its Dapr sidecar."))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// BearerToken returns the token of an "Authorization: Bearer <token>"
// header, or "".
func BearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return ""
	}
	return strings.TrimSpace(h[7:])
}

// SidecarClient returns an HTTP client that sends the Dapr API token with
// every request (for calls to the app's own sidecar).
func SidecarClient(daprAPIToken string) *http.Client {
	return &http.Client{Transport: sidecarTransport{token: daprAPIToken, base: http.DefaultTransport}}
}

// InvokeClient returns an HTTP client for service invocation of appID
// through the app's own sidecar: requests go to the sidecar's HTTP address
// with the target's own path, and the dapr-app-id header names the target
// (Dapr's HTTP invocation form that keeps paths as they are).
func InvokeClient(daprAPIToken, appID string) *http.Client {
	return &http.Client{Transport: sidecarTransport{token: daprAPIToken, appID: appID, base: http.DefaultTransport}}
}

// AppIDHeader names the app a request to a sidecar is for.
const AppIDHeader = "dapr-app-id"

type sidecarTransport struct {
	token string
	appID string
	base  http.RoundTripper
}

func (t sidecarTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(APITokenHeader, t.token)
	if t.appID != "" {
		r.Header.Set(AppIDHeader, t.appID)
	}
	return t.base.RoundTrip(r)
}
