// Package authapi serves auth-service's HTTP API: login, refresh and logout,
// the public key set and discovery document, and admin user management.
package authapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pms-dapr/pms/apps/auth-service/internal/identity"
	"github.com/pms-dapr/pms/platform/authn"
	"github.com/pms-dapr/pms/platform/clientaddr"
	"github.com/pms-dapr/pms/platform/httpserver"
	"github.com/pms-dapr/pms/platform/jsonbody"
	"github.com/pms-dapr/pms/platform/problem"
)

// maxBody bounds request bodies; credentials are small.
const maxBody = 8 << 10

// Accounts is what the handlers need from the domain.
type Accounts interface {
	Login(ctx context.Context, email, password, clientAddr string) (identity.Session, error)
	Refresh(ctx context.Context, refresh string) (identity.Session, error)
	Logout(ctx context.Context, refresh string) error
	CreateUser(ctx context.Context, n identity.NewUser) (identity.User, error)
	ListUsers(ctx context.Context) ([]identity.User, error)
	UpdateUser(ctx context.Context, id string, p identity.UserPatch) (identity.User, error)
}

// Keys publishes and checks tokens.
type Keys interface {
	JWKS() json.RawMessage
	Verify(raw string) (authn.Identity, error)
}

// Config is what the routes need besides the domain.
type Config struct {
	Issuer      string // also the public base URL of this API
	AppAPIToken string
	// Logins counts login attempts by outcome (NewLoginCounter); nil
	// counts nothing.
	Logins *prometheus.CounterVec
}

// NewLoginCounter is pms_logins_total, by outcome: success, failure (bad
// credentials), throttled, busy (every password check taken), invalid
// (malformed input) or error.
func NewLoginCounter() *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pms_logins_total",
		Help: "Login attempts, by outcome: success, failure, throttled, busy, invalid, error."}, []string{"outcome"})
	for _, o := range []string{"success", "failure", "throttled", "busy", "invalid", "error"} {
		c.WithLabelValues(o) // every series from the start, so rates and alerts see zeros
	}
	return c
}

// Routes returns auth-service's router.
func Routes(acc Accounts, keys Keys, cfg Config, health httpserver.Health, log *slog.Logger) http.Handler {
	h := &handler{acc: acc, keys: keys, cfg: cfg, log: log, errs: errorMapper(log)}
	r := httpserver.Router(log, cfg.AppAPIToken, health)
	r.Post("/login", h.login)
	r.Post("/refresh", h.refresh)
	r.Post("/logout", h.logout)
	r.Get("/.well-known/jwks.json", h.jwks)
	r.Get("/.well-known/openid-configuration", h.discovery)
	r.Route("/users", func(r chi.Router) {
		r.Use(h.requireAdmin)
		r.Post("/", h.createUser)
		r.Get("/", h.listUsers)
		r.Patch("/{id}", h.updateUser)
	})
	return r
}

type handler struct {
	acc  Accounts
	keys Keys
	cfg  Config
	log  *slog.Logger
	errs problem.Mapper
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

type refreshRequest struct {
	RefreshToken string `json:"refreshToken"`
}

type sessionResponse struct {
	AccessToken  string `json:"accessToken"`
	TokenType    string `json:"tokenType"`
	ExpiresIn    int    `json:"expiresIn"`
	RefreshToken string `json:"refreshToken"`
}

func toSession(s identity.Session) sessionResponse {
	return sessionResponse{AccessToken: s.AccessToken, TokenType: "Bearer",
		ExpiresIn: int(s.ExpiresIn / time.Second), RefreshToken: s.RefreshToken}
}

func (h *handler) login(w http.ResponseWriter, r *http.Request) {
	var body loginRequest
	if !jsonbody.Decode(w, r, &body, maxBody) {
		return
	}
	if err := identity.ValidateLogin(body.Email, body.Password); err != nil {
		h.countLogin("invalid")
		h.fail(w, r, err)
		return
	}
	s, err := h.acc.Login(r.Context(), body.Email, body.Password, clientaddr.Forwarded(r))
	h.countLogin(loginOutcome(err))
	if errors.Is(err, identity.ErrBadCredentials) {
		h.log.InfoContext(r.Context(), "login failed", "client", clientaddr.Forwarded(r))
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpserver.WriteJSON(w, http.StatusOK, toSession(s))
}

// loginOutcome is the pms_logins_total outcome of a login's error.
func loginOutcome(err error) string {
	switch {
	case err == nil:
		return "success"
	case errors.Is(err, identity.ErrBadCredentials):
		return "failure"
	case errors.Is(err, identity.ErrThrottled):
		return "throttled"
	case errors.Is(err, identity.ErrBusy):
		return "busy"
	}
	if _, ok := problem.Invalid(err); ok {
		return "invalid"
	}
	return "error"
}

func (h *handler) countLogin(outcome string) {
	if h.cfg.Logins != nil {
		h.cfg.Logins.WithLabelValues(outcome).Inc()
	}
}

func (h *handler) refresh(w http.ResponseWriter, r *http.Request) {
	var body refreshRequest
	if !jsonbody.Decode(w, r, &body, maxBody) {
		return
	}
	s, err := h.acc.Refresh(r.Context(), body.RefreshToken)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpserver.WriteJSON(w, http.StatusOK, toSession(s))
}

func (h *handler) logout(w http.ResponseWriter, r *http.Request) {
	var body refreshRequest
	if !jsonbody.Decode(w, r, &body, maxBody) {
		return
	}
	if err := h.acc.Logout(r.Context(), body.RefreshToken); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *handler) jwks(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(h.keys.JWKS())
}

func (h *handler) discovery(w http.ResponseWriter, _ *http.Request) {
	iss := strings.TrimSuffix(h.cfg.Issuer, "/")
	w.Header().Set("Cache-Control", "public, max-age=300")
	httpserver.WriteJSONBody(w, http.StatusOK, map[string]any{
		"issuer":                                iss,
		"jwks_uri":                              iss + "/.well-known/jwks.json",
		"token_endpoint":                        iss + "/login",
		"grant_types_supported":                 []string{"password", "refresh_token"},
		"id_token_signing_alg_values_supported": []string{"ES256"},
		"subject_types_supported":               []string{"public"},
		"response_types_supported":              []string{"token"},
		"claims_supported":                      []string{"iss", "aud", "sub", "email", "role", "iat", "nbf", "exp", "jti"},
	})
}

// errorMapper maps the identity domain's errors to problems.
func errorMapper(log *slog.Logger) problem.Mapper {
	return problem.Mapper{Log: log, Rules: []problem.Rule{
		{Err: identity.ErrThrottled, Status: http.StatusTooManyRequests, Detail: "Too many failed logins; wait before trying again."},
		{Err: identity.ErrBusy, Status: http.StatusServiceUnavailable, Detail: "Too many sign-ins at once; try again in a moment.", RetryAfter: time.Second},
		{Err: identity.ErrBadCredentials, Status: http.StatusUnauthorized, Detail: "Invalid email or password."},
		{Err: identity.ErrInvalidRefresh, Status: http.StatusUnauthorized, Detail: "The refresh token is not valid; log in again."},
		{Err: identity.ErrEmailTaken, Status: http.StatusConflict, Detail: "A user with this email exists.", Field: "email", Message: "is already registered"},
		{Err: identity.ErrNotFound, Status: http.StatusNotFound, Detail: "No user with this id."},
	}}
}

// fail answers a domain error with its problem.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) { h.errs.Write(w, r, err) }
