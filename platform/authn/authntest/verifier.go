package authntest

import (
	"net/http"

	"github.com/pms-dapr/pms/platform/authn"
)

// Tokens stands in for authn.Verifier in handler tests: it accepts Token as
// Identity and answers everything else 401, as the real verifier does.
type Tokens struct {
	Token    string
	Identity authn.Identity
}

// Middleware lets through requests bearing v.Token, with v.Identity in
// their context.
func (v Tokens) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if authn.BearerToken(r) != v.Token {
			authn.Unauthorized(w, r)
			return
		}
		next.ServeHTTP(w, r.WithContext(authn.WithIdentity(r.Context(), v.Identity)))
	})
}
