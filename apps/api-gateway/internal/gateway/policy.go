package gateway

import (
	"net/http"

	"github.com/pms-dapr/pms/platform/authn"
)

// Who may do what. Only routes listed here are served behind the bearer
// middleware; each names the roles allowed.
//
//	admin      everything, including user management, analytics, deletes,
//	           deleted records, audit trails and dead letters
//	clinician  register, read, search and update patients
//	billing    read patients (to match them with billing accounts) and
//	           everything on billing accounts (billingapi.Handler.Routes)
//	clinician  also: find billing accounts and post charges
var (
	anyRole        = authn.Roles
	patientReaders = anyRole
	patientWriters = []string{authn.RoleAdmin, authn.RoleClinician}
	adminsOnly     = []string{authn.RoleAdmin}
)

// allow lets next run only for callers whose role is in roles. The role is
// the one of the identity Bearer verified for this request; a request
// without one (a route mounted outside Bearer by mistake) is refused.
func allow(roles []string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := authn.FromContext(r.Context())
		if !ok {
			authn.Unauthorized(w, r)
			return
		}
		for _, role := range roles {
			if id.Role == role {
				next.ServeHTTP(w, r)
				return
			}
		}
		noteRoleRefused(r)
		authn.Forbidden(w, r)
	})
}
