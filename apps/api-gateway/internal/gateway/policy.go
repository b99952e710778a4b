package gateway

import (
	"net/http"

	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/pms-dapr/pms/platform/authn"
)

// Who may do what. Only routes listed here are served behind the bearer
// middleware; each names the roles allowed.
//
//	admin      everything, including user management, analytics, deletes,
//	           deleted records and audit trails
//	clinician  register, read, search and update patients
//	billing    read patients (to match them with billing accounts)
var (
	anyRole        = authn.Roles
	patientReaders = anyRole
	patientWriters = []string{authn.RoleAdmin, authn.RoleClinician}
	adminsOnly     = []string{authn.RoleAdmin}
)

// allow lets next run only for callers whose role is in roles. It runs
// after the bearer middleware has verified the token, so the claims are
// read without checking the signature a second time.
func allow(roles []string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, err := jwt.ParseInsecure([]byte(authn.BearerToken(r)))
		if err != nil {
			authn.Unauthorized(w, r)
			return
		}
		id, err := authn.IdentityOf(tok)
		if err != nil {
			authn.Unauthorized(w, r)
			return
		}
		for _, role := range roles {
			if id.Role == role {
				next.ServeHTTP(w, r.WithContext(authn.WithIdentity(r.Context(), id)))
				return
			}
		}
		authn.Forbidden(w, r)
	})
}
