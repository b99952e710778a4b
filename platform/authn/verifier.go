package authn

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"

	"github.com/pms-dapr/pms/platform/problem"
)

// ErrKeysUnavailable means the JWKS could not be fetched: no token can be
// verified, so requests are refused (never let through).
var ErrKeysUnavailable = errors.New("signing keys unavailable")

// ClockSkew is the leeway allowed on exp, nbf and iat.
const ClockSkew = 30 * time.Second

// Algorithm is the only signing algorithm accepted (RFC 7518 ES256). Pinning
// it closes algorithm-confusion attacks (alg none, HS256 with a public key,
// RS256 by another key the JWKS happens to hold).
const Algorithm = "ES256"

// TokenType is the typ header of an access token (RFC 9068). An ID token or
// any other JWT signed by the same keys is not an access token.
const TokenType = "at+jwt"

// JWKSRefreshInterval is how often a verifier re-reads the JWKS; a key must
// be published at least this long before it signs (see docs/runbooks/rotate-signing-keys.md).
const JWKSRefreshInterval = 10 * time.Minute

// unknownKeyRefresh bounds re-reads of the JWKS triggered by a token whose
// kid is not cached (a rotated key, or the first token after a start while
// the identity provider was down), so forged kids cannot flood it. A var
// only so that tests can shorten it.
var unknownKeyRefresh = 10 * time.Second

// jwksFetchMax is how long one fetch of the JWKS may take.
const jwksFetchMax = 10 * time.Second

// reReadMax bounds a re-read of the JWKS: the wait for its rate limit and
// then a whole fetch. keyfunc runs both under one deadline; were it only
// the limit's period, a re-read that waited almost a period would have no
// time left to fetch, fail, spend the limit, and so would every re-read
// after it (each starting just after the last spent it): the verifier would
// never learn a new key until its periodic refresh.
func reReadMax() time.Duration { return unknownKeyRefresh + jwksFetchMax }

// Claims are the claims of an access token.
type Claims struct {
	jwt.RegisteredClaims
	Email string `json:"email,omitempty"`
	Role  string `json:"role,omitempty"`
}

// Verifier checks access tokens against a JWKS. A token it has verified is
// remembered (by its SHA-256) until it expires, or for VerifiedCacheTTL at
// most, so a client's next requests cost a hash instead of an ECDSA
// verification; a key removed from the JWKS stops being honoured within
// that time.
type Verifier struct {
	keys   keyfunc.Keyfunc
	parser *jwt.Parser
	now    func() time.Time

	mu       sync.Mutex
	verified map[[sha256.Size]byte]verifiedToken

	fetching atomic.Bool        // a readiness check's JWKS fetch is under way
	lookups  singleflight.Group // the background re-read of the JWKS ("refresh", refreshSoon)
}

// VerifiedCacheTTL bounds how long a verified token is remembered, and
// verifiedCacheMax how many are (past it, the cache starts again empty).
const (
	VerifiedCacheTTL = time.Minute
	verifiedCacheMax = 10_000
)

type verifiedToken struct {
	id    Identity
	until time.Time
}

// NewVerifier returns a Verifier for tokens from issuer meant for audience,
// with keys fetched from jwksURL by client: lazily (a service may start
// before its identity provider), then every JWKSRefreshInterval and when a
// token names an unknown kid. Fetch failures are logged to log.
func NewVerifier(ctx context.Context, jwksURL, issuer, audience string, client *http.Client, log *slog.Logger) (*Verifier, error) {
	noFirstFetchError := true
	keys, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{jwksURL}, keyfunc.Override{
		Client:                    client,
		HTTPTimeout:               jwksFetchMax,
		NoErrorReturnFirstHTTPReq: &noFirstFetchError,
		RefreshInterval:           JWKSRefreshInterval,
		RefreshUnknownKID:         rate.NewLimiter(rate.Every(unknownKeyRefresh), 1),
		// Bounds both the wait for the limiter and the fetch it allows
		// (keyfunc runs the refresh under the same deadline): see
		// reReadMax. The re-read runs in the background (Verifier.key),
		// never in a request.
		RateLimitWaitMax: reReadMax(),
		RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
			return func(ctx context.Context, err error) {
				log.WarnContext(ctx, "JWKS fetch failed", "url", u, "err", err)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("authn: jwks: %w", err)
	}
	return newVerifier(keys, issuer, audience), nil
}

// NewStaticVerifier returns a Verifier whose keys are the JWKS document
// jwks (an identity provider checking its own tokens).
func NewStaticVerifier(jwks []byte, issuer, audience string) (*Verifier, error) {
	keys, err := keyfunc.NewJWKSetJSON(jwks)
	if err != nil {
		return nil, fmt.Errorf("authn: jwks: %w", err)
	}
	return newVerifier(keys, issuer, audience), nil
}

func newVerifier(keys keyfunc.Keyfunc, issuer, audience string) *Verifier {
	return &Verifier{keys: keys, now: time.Now, verified: map[[sha256.Size]byte]verifiedToken{}, parser: jwt.NewParser(
		jwt.WithValidMethods([]string{Algorithm}),
		jwt.WithIssuer(issuer),
		jwt.WithAudience(audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(ClockSkew),
	)}
}

// NewVerifierFor returns the Verifier a service uses: keys from
// cfg.JWKSURL when one is configured (another identity provider), else
// auth-service's JWKS fetched through the app's own sidecar at sidecarURL
// (service invocation of cfg.AuthAppID, presenting the Dapr API token).
func NewVerifierFor(ctx context.Context, sidecarURL string, cfg ServiceConfig, log *slog.Logger) (*Verifier, error) {
	if cfg.JWKSURL != "" {
		return NewVerifier(ctx, cfg.JWKSURL, cfg.Issuer, cfg.Audience, &http.Client{Timeout: 10 * time.Second}, log)
	}
	client := InvokeClient(cfg.Dapr.Token, cfg.AuthAppID)
	client.Timeout = 10 * time.Second
	return NewVerifier(ctx, sidecarURL+"/.well-known/jwks.json", cfg.Issuer, cfg.Audience, client, log)
}

// readinessKeyID names no key: reading it makes the key store fetch the
// JWKS again (as a token with an unknown kid does, under the same limit).
const readinessKeyID = "readiness-check"

// Ready is a readiness check: nil once the verifier holds signing keys. A
// service that started before its identity provider (the first fetch
// failed) would otherwise fetch again only when a token arrives, which no
// client sends to a pod that is not ready; so until keys are held, each
// call also starts a fetch in the background, at most one at a time.
func (v *Verifier) Ready(ctx context.Context) error {
	if all, err := v.keys.Storage().KeyReadAll(ctx); err == nil && len(all) > 0 {
		return nil
	}
	if v.fetching.CompareAndSwap(false, true) {
		go func() {
			defer v.fetching.Store(false)
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reReadMax())
			defer cancel()
			_, _ = v.keys.Storage().KeyRead(fctx, readinessKeyID)
		}()
	}
	return fmt.Errorf("%w: the JWKS has not been fetched yet", ErrKeysUnavailable)
}

// Verify checks raw's signature (ES256 only, by the JWKS key its kid
// names), type (at+jwt), issuer, audience, expiry (required), not-before
// and issued-at, and returns the identity it carries.
func (v *Verifier) Verify(ctx context.Context, raw string) (Identity, error) {
	sum, now := sha256.Sum256([]byte(raw)), v.now()
	if id, ok := v.lookup(sum, now); ok {
		return id, nil
	}
	var claims Claims
	tok, err := v.parser.ParseWithClaims(raw, &claims, v.key())
	if err != nil {
		// No key could be looked up and none is cached: the JWKS has not
		// been fetched yet, which is an outage, not a bad token.
		if errors.Is(err, jwt.ErrTokenUnverifiable) {
			if all, rerr := v.keys.Storage().KeyReadAll(ctx); rerr == nil && len(all) == 0 {
				return Identity{}, fmt.Errorf("%w: %v", ErrKeysUnavailable, err)
			}
		}
		return Identity{}, fmt.Errorf("authn: %w", err)
	}
	if typ, _ := tok.Header["typ"].(string); !isAccessTokenType(typ) {
		return Identity{}, fmt.Errorf("authn: token type %q is not %s", typ, TokenType)
	}
	id, err := claims.identity()
	if err != nil {
		return Identity{}, err
	}
	// Remembered until it expires (without the clock-skew leeway the parser
	// allows), and never longer than VerifiedCacheTTL.
	until := now.Add(VerifiedCacheTTL)
	if claims.ExpiresAt.Time.Before(until) {
		until = claims.ExpiresAt.Time
	}
	v.mu.Lock()
	if len(v.verified) >= verifiedCacheMax {
		clear(v.verified)
	}
	v.verified[sum] = verifiedToken{id: id, until: until}
	v.mu.Unlock()
	return id, nil
}

// Remembered returns the identity of raw if this Verifier accepted it less
// than VerifiedCacheTTL ago and it has not expired since; it verifies
// nothing itself.
func (v *Verifier) Remembered(raw string) (Identity, bool) {
	return v.lookup(sha256.Sum256([]byte(raw)), v.now())
}

func (v *Verifier) lookup(sum [sha256.Size]byte, now time.Time) (Identity, bool) {
	v.mu.Lock()
	hit, ok := v.verified[sum]
	v.mu.Unlock()
	if !ok || !now.Before(hit.until) {
		return Identity{}, false
	}
	return hit.id, true
}

// key picks the verification key by kid, which is required: without it
// keyfunc would try every key of the set. A kid the key set holds is
// answered from memory; for an unknown one (the first tokens of a new
// signing key, or a forgery) the JWKS is re-read in the background
// (refreshSoon) and the token refused unless that brings its key at once.
func (v *Verifier) key() jwt.Keyfunc {
	fromMemory := v.keys.KeyfuncCtx(doneCtx)
	return func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("token has no kid")
		}
		if key, err := fromMemory(t); err == nil {
			return key, nil
		}
		v.refreshSoon()
		key, err := fromMemory(t)
		if err != nil {
			return nil, fmt.Errorf("authn: unknown key %q: %w", kid, err)
		}
		return key, nil
	}
}

// refreshSoon re-reads the JWKS in the background, one re-read at a time
// (keyfunc allows one per unknownKeyRefresh; the rest find the keys they
// had), and waits at most unknownKeyWait for it: a request never waits for
// the identity provider, so neither a forged kid nor a slow JWKS makes
// refusals slow.
func (v *Verifier) refreshSoon() {
	done := v.lookups.DoChan("refresh", func() (any, error) {
		ctx, cancel := context.WithTimeout(context.Background(), reReadMax())
		defer cancel()
		_, _ = v.keys.Storage().KeyRead(ctx, readinessKeyID) // an unknown kid: keyfunc re-reads
		return nil, nil
	})
	timer := time.NewTimer(unknownKeyWait)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
	}
}

// unknownKeyWait is how long a token with an unknown kid waits for a
// re-read of the JWKS (which may take reReadMax in the background).
const unknownKeyWait = 50 * time.Millisecond

// doneCtx is a context that has ended: keyfunc, given it, reads the keys it
// holds and refuses to wait for a re-read.
var doneCtx = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// isAccessTokenType accepts "at+jwt" and its media-type form (RFC 9068 §4).
func isAccessTokenType(typ string) bool {
	typ = strings.ToLower(typ)
	return typ == TokenType || typ == "application/"+TokenType
}

func (c Claims) identity() (Identity, error) {
	id := Identity{Subject: c.Subject, Email: c.Email, Role: c.Role}
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
			KeysUnavailable(w, r)
		case err != nil:
			Unauthorized(w, r)
		default:
			next.ServeHTTP(w, r.WithContext(WithIdentity(r.Context(), id)))
		}
	})
}

// KeysUnavailable answers 503: tokens cannot be checked yet.
func KeysUnavailable(w http.ResponseWriter, r *http.Request) {
	problem.WriteUnavailable(w, r, 5, "Access tokens cannot be checked right now; try again shortly.")
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

// KeyIDs lists the kids of the signing keys this Verifier holds now.
func (v *Verifier) KeyIDs(ctx context.Context) map[string]bool {
	out := map[string]bool{}
	all, err := v.keys.Storage().KeyReadAll(ctx)
	if err != nil {
		return out
	}
	for _, k := range all {
		out[k.Marshal().KID] = true
	}
	return out
}

// KnowsKey reports whether the JWKS holds a key with this kid; for an
// unknown kid it re-reads the JWKS as a token naming it would
// (refreshSoon: in the background, waiting briefly).
func (v *Verifier) KnowsKey(ctx context.Context, kid string) bool {
	if kid == "" {
		return false
	}
	if _, err := v.keys.Storage().KeyRead(doneCtx, kid); err == nil {
		return true
	}
	v.refreshSoon()
	_, err := v.keys.Storage().KeyRead(doneCtx, kid)
	return err == nil
}

// TokenKeyID is the kid in raw's header, unverified ("" if none).
func TokenKeyID(raw string) string {
	tok, _, err := jwt.NewParser().ParseUnverified(raw, jwt.MapClaims{})
	if err != nil {
		return ""
	}
	kid, _ := tok.Header["kid"].(string)
	return kid
}
