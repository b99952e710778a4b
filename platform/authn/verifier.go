package authn

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/pms-dapr/pms/platform/problem"
)

// ErrKeysUnavailable means the JWKS could not be fetched: no token can be
// verified, so requests are refused (never let through).
var ErrKeysUnavailable = errors.New("signing keys unavailable")

// ClockSkew is the leeway allowed on exp and nbf.
const ClockSkew = 30 * time.Second

// Verifier checks access tokens against a JWKS that it fetches lazily and
// caches (refreshing at most every 10 minutes, as the gateway's bearer
// middleware does).
type Verifier struct {
	cache    *jwk.Cache
	jwksURL  string
	issuer   string
	audience string
}

// NewVerifier returns a Verifier for tokens from issuer meant for audience,
// with keys fetched from jwksURL by client.
func NewVerifier(ctx context.Context, jwksURL, issuer, audience string, client *http.Client) (*Verifier, error) {
	cache := jwk.NewCache(ctx)
	if err := cache.Register(jwksURL, jwk.WithHTTPClient(client), jwk.WithMinRefreshInterval(10*time.Minute)); err != nil {
		return nil, fmt.Errorf("authn: register jwks: %w", err)
	}
	return &Verifier{cache: cache, jwksURL: jwksURL, issuer: issuer, audience: audience}, nil
}

// NewVerifierFor returns the Verifier a service uses: keys from
// cfg.JWKSURL when one is configured (another identity provider), else
// auth-service's JWKS fetched through the app's own sidecar at sidecarURL
// (service invocation of cfg.AuthAppID, presenting the Dapr API token).
func NewVerifierFor(ctx context.Context, sidecarURL string, cfg ServiceConfig) (*Verifier, error) {
	if cfg.JWKSURL != "" {
		return NewVerifier(ctx, cfg.JWKSURL, cfg.Issuer, cfg.Audience, &http.Client{Timeout: 10 * time.Second})
	}
	client := SidecarClient(cfg.DaprAPIToken)
	client.Timeout = 10 * time.Second
	return NewVerifier(ctx, sidecarURL+"/v1.0/invoke/"+cfg.AuthAppID+"/method/.well-known/jwks.json", cfg.Issuer, cfg.Audience, client)
}

// Verify checks raw's signature (ES256/RS256 keys of the JWKS, kid
// required), issuer, audience, expiry and not-before, and returns the
// identity it carries.
func (v *Verifier) Verify(ctx context.Context, raw string) (Identity, error) {
	keys, err := v.cache.Get(ctx, v.jwksURL)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: %v", ErrKeysUnavailable, err)
	}
	tok, err := jwt.Parse([]byte(raw),
		jwt.WithContext(ctx),
		jwt.WithKeySet(keys, jws.WithInferAlgorithmFromKey(true), jws.WithRequireKid(true)),
		jwt.WithIssuer(v.issuer),
		jwt.WithAudience(v.audience),
		jwt.WithAcceptableSkew(ClockSkew),
		jwt.WithRequiredClaim("exp"),
		jwt.WithRequiredClaim("sub"),
	)
	if err != nil {
		return Identity{}, fmt.Errorf("authn: %w", err)
	}
	return IdentityOf(tok)
}

// IdentityOf reads the identity claims of a verified token.
func IdentityOf(tok jwt.Token) (Identity, error) {
	id := Identity{Subject: tok.Subject()}
	if v, ok := tok.Get("email"); ok {
		id.Email, _ = v.(string)
	}
	if v, ok := tok.Get("role"); ok {
		id.Role, _ = v.(string)
	}
	if id.Subject == "" || !ValidRole(id.Role) {
		return Identity{}, errors.New("authn: token lacks a subject or a known role")
	}
	return id, nil
}

// Middleware verifies the bearer token of every request except the health
// probes and puts the caller's identity in the context: 401 without a valid
// token, 503 while the keys cannot be fetched.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			next.ServeHTTP(w, r)
			return
		}
		id, err := v.Verify(r.Context(), BearerToken(r))
		switch {
		case errors.Is(err, ErrKeysUnavailable):
			w.Header().Set("Retry-After", "5")
			problem.Write(w, r, problem.New(http.StatusServiceUnavailable, "Access tokens cannot be checked right now; try again shortly."))
		case err != nil:
			Unauthorized(w, r)
		default:
			next.ServeHTTP(w, r.WithContext(WithIdentity(r.Context(), id)))
		}
	})
}

// Unauthorized answers 401 with a bearer challenge.
func Unauthorized(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	problem.Write(w, r, problem.New(http.StatusUnauthorized, "A valid access token is required."))
}

// Forbidden answers 403: the caller is known but their role is not enough.
func Forbidden(w http.ResponseWriter, r *http.Request) {
	problem.Write(w, r, problem.New(http.StatusForbidden, "Your role does not allow this."))
}
