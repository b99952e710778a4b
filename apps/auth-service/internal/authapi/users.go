package authapi

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/pms-dapr/pms/apps/auth-service/internal/identity"
	"github.com/pms-dapr/pms/platform/authn"
	"github.com/pms-dapr/pms/platform/httpserver"
	"github.com/pms-dapr/pms/platform/jsonbody"
)

// requireAdmin lets only a caller with a valid admin access token through.
func (h *handler) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := h.keys.Verify(authn.BearerToken(r))
		switch {
		case err != nil:
			authn.Unauthorized(w, r)
		case id.Role != authn.RoleAdmin:
			authn.Forbidden(w, r)
		default:
			h.log.InfoContext(r.Context(), "user management", "actor", id.Subject, "method", r.Method, "path", r.URL.Path)
			next.ServeHTTP(w, r.WithContext(authn.WithIdentity(r.Context(), id)))
		}
	})
}

type userRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Role     string `json:"role"`
}

type userPatchRequest struct {
	Role     *string `json:"role"`
	Disabled *bool   `json:"disabled"`
}

type userResponse struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Role      string    `json:"role"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

func toUser(u identity.User) userResponse {
	return userResponse{ID: u.ID, Email: u.Email, Role: u.Role, Disabled: u.Disabled, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

func (h *handler) createUser(w http.ResponseWriter, r *http.Request) {
	var body userRequest
	if !jsonbody.Decode(w, r, &body, maxBody) {
		return
	}
	u, err := h.acc.CreateUser(r.Context(), identity.NewUser{Email: body.Email, Password: body.Password, Role: body.Role})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/auth/users/"+u.ID)
	httpserver.WriteJSON(w, http.StatusCreated, toUser(u))
}

func (h *handler) listUsers(w http.ResponseWriter, r *http.Request) {
	us, err := h.acc.ListUsers(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]userResponse, len(us))
	for i, u := range us {
		out[i] = toUser(u)
	}
	httpserver.WriteJSON(w, http.StatusOK, map[string]any{"items": out})
}

func (h *handler) updateUser(w http.ResponseWriter, r *http.Request) {
	var body userPatchRequest
	if !jsonbody.Decode(w, r, &body, maxBody) {
		return
	}
	u, err := h.acc.UpdateUser(r.Context(), chi.URLParam(r, "id"), identity.UserPatch{Role: body.Role, Disabled: body.Disabled})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpserver.WriteJSON(w, http.StatusOK, toUser(u))
}
