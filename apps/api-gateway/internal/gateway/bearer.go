package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dapr/components-contrib/metadata"
	"github.com/dapr/components-contrib/middleware"
	"github.com/dapr/components-contrib/middleware/http/bearer"
	"github.com/dapr/kit/logger"
	"golang.org/x/sync/singleflight"
	"gopkg.in/yaml.v3"

	"github.com/pms-dapr/pms/platform/authn"
	"github.com/pms-dapr/pms/platform/problem"
)

// BearerComponentType is the Dapr component type the manifest must declare.
const BearerComponentType = "middleware.http.bearer"

// component is the part of a Dapr Component manifest the gateway reads.
type component struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		Type     string `yaml:"type"`
		Metadata []struct {
			Name  string `yaml:"name"`
			Value string `yaml:"value"`
		} `yaml:"metadata"`
	} `yaml:"spec"`
}

// LoadBearerMetadata reads a middleware.http.bearer Component manifest into
// the metadata the middleware is configured with.
func LoadBearerMetadata(path string) (middleware.Metadata, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return middleware.Metadata{}, fmt.Errorf("gateway: bearer component: %w", err)
	}
	var c component
	if err := yaml.Unmarshal(raw, &c); err != nil {
		return middleware.Metadata{}, fmt.Errorf("gateway: bearer component %s: %w", path, err)
	}
	if c.Kind != "Component" || c.Spec.Type != BearerComponentType {
		return middleware.Metadata{}, fmt.Errorf("gateway: %s is not a %s Component", path, BearerComponentType)
	}
	props := map[string]string{}
	for _, m := range c.Spec.Metadata {
		props[m.Name] = m.Value
	}
	return middleware.Metadata{Base: metadata.Base{Name: c.Metadata.Name, Properties: props}}, nil
}

// Bearer is the Dapr bearer middleware, set up in the background: building
// it fetches the JWKS, which may not be reachable yet (auth-service starting
// or down). Until it is built every protected request is refused with 503;
// nothing passes unauthenticated.
//
// The bearer middleware checks signature, issuer, audience and expiry but
// neither the token type nor the algorithm, and hands no claims on. So a
// token it lets through is verified again by the project's own verifier
// (same keys, issuer and audience; ES256 and at+jwt pinned), whose identity
// the role policy then reads from the request context. A token both have
// accepted is remembered (authn.VerifiedCacheTTL, at most until it expires)
// and not checked again meanwhile.
//
// The bearer middleware fetches the JWKS again only every 10 minutes. So
// that a signing-key rotation needs no wait at the gateway, a token it
// refuses whose kid auth-service publishes but that build did not know
// (the gateway's verifier looks unknown kids up at once) makes the gateway
// build the middleware again, at most once per such kid, and check the
// token once more (docs/runbooks/rotate-signing-keys.md).
type Bearer struct {
	md      middleware.Metadata
	tokens  *authn.Verifier
	log     *slog.Logger
	handler atomic.Pointer[func(http.Handler) http.Handler]

	rebuilds singleflight.Group // rollover, by kid
	mu       sync.Mutex         // serialises rebuilds
	kids     map[string]bool    // the kids the verifier held when the current build was made
	cancel   context.CancelFunc
}

// NewBearer returns an unready Bearer for md, whose jwksURL, issuer and
// audience also configure the gateway's own verifier.
func NewBearer(ctx context.Context, md middleware.Metadata, log *slog.Logger) (*Bearer, error) {
	p := md.Properties
	if p["jwksURL"] == "" || p["issuer"] == "" || p["audience"] == "" {
		return nil, fmt.Errorf("gateway: bearer component %s needs jwksURL, issuer and audience", md.Name)
	}
	tokens, err := authn.NewVerifier(ctx, p["jwksURL"], p["issuer"], p["audience"], &http.Client{Timeout: 10 * time.Second}, log)
	if err != nil {
		return nil, err
	}
	return &Bearer{md: md, tokens: tokens, log: log}, nil
}

// Run builds the middleware, retrying with backoff until it succeeds or ctx
// ends.
func (b *Bearer) Run(ctx context.Context) error {
	wait := time.Second
	for {
		err := b.build(ctx)
		if err == nil {
			b.log.Info("JWT verification ready", "component", b.md.Name)
			return nil
		}
		b.log.Warn("JWT verification not ready; protected routes answer 503", "err", err, "retry_in", wait.String())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(wait*2, 30*time.Second)
	}
}

// build makes a bearer middleware (it fetches the JWKS) and serves it in
// place of the one before, whose key cache it stops.
func (b *Bearer) build(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buildLocked(ctx)
}

// buildLocked is build with b.mu held.
func (b *Bearer) buildLocked(ctx context.Context) error {
	kids := b.tokens.KeyIDs(ctx)
	bctx, cancel := context.WithCancel(ctx)
	mw := bearer.NewBearerMiddleware(logger.NewLogger("api-gateway.bearer"))
	h, err := mw.GetHandler(bctx, b.md)
	if err != nil {
		cancel()
		return err
	}
	b.handler.Store(&h)
	if b.cancel != nil {
		b.cancel()
	}
	b.kids, b.cancel = kids, cancel
	return nil
}

// rollover reports whether a token the build used refused should be
// checked again: a newer build exists, or raw names a kid the JWKS has
// and the current build predates, and a new build was made. Concurrent
// requests naming one kid share one look-up and build.
func (b *Bearer) rollover(ctx context.Context, raw string, used *func(http.Handler) http.Handler) bool {
	if b.handler.Load() != used {
		return true
	}
	kid := authn.TokenKeyID(raw)
	if kid == "" {
		return false
	}
	_, _, _ = b.rebuilds.Do(kid, func() (any, error) {
		b.mu.Lock()
		known := b.kids[kid]
		b.mu.Unlock()
		if known || !b.tokens.KnowsKey(ctx, kid) {
			return nil, nil
		}
		b.mu.Lock()
		defer b.mu.Unlock()
		if err := b.buildLocked(context.WithoutCancel(ctx)); err != nil {
			b.log.WarnContext(ctx, "JWT verification not rebuilt for a new signing key", "kid", kid, "err", err)
			return nil, nil
		}
		b.log.InfoContext(ctx, "JWT verification rebuilt for a new signing key", "kid", kid)
		return nil, nil
	})
	return b.handler.Load() != used
}

// Ready reports whether tokens can be verified: by the bearer middleware
// and by the gateway's own verifier, each with its copy of the JWKS.
func (b *Bearer) Ready(ctx context.Context) error {
	if b.handler.Load() == nil {
		return errors.New("JWKS not loaded yet")
	}
	return b.tokens.Ready(ctx)
}

// Middleware verifies the bearer token before next runs. The bearer
// middleware's own plain-text rejections become problem+json 401s.
func (b *Bearer) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := b.handler.Load()
		if h == nil {
			w.Header().Set("Retry-After", "5")
			problem.Write(w, r, problem.New(http.StatusServiceUnavailable, "Sign-in verification is starting; try again shortly."))
			return
		}
		// A token both checks accepted within the last minute (and not
		// expired since) is not checked again: the gateway's verifier
		// remembers only tokens the bearer middleware let through first.
		if id, ok := b.tokens.Remembered(authn.BearerToken(r)); ok {
			next.ServeHTTP(w, r.WithContext(authn.WithIdentity(r.Context(), id)))
			return
		}
		passed := false
		inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			passed = true
			id, err := b.tokens.Verify(r.Context(), authn.BearerToken(r))
			switch {
			case errors.Is(err, authn.ErrKeysUnavailable):
				authn.KeysUnavailable(w, r)
			case err != nil:
				authn.Unauthorized(w, r)
			default:
				next.ServeHTTP(w, r.WithContext(authn.WithIdentity(r.Context(), id)))
			}
		})
		rw := &rejectionWriter{ResponseWriter: w, r: r, passed: &passed}
		(*h)(inner).ServeHTTP(rw, r)
		if rw.code == http.StatusUnauthorized && b.rollover(r.Context(), authn.BearerToken(r), h) {
			rw = &rejectionWriter{ResponseWriter: w, r: r, passed: &passed}
			(*b.handler.Load())(inner).ServeHTTP(rw, r)
		}
		rw.finish()
	})
}

// rejectionWriter holds back a response the bearer middleware writes
// itself (never one from next); finish turns it into a problem document.
type rejectionWriter struct {
	http.ResponseWriter
	r      *http.Request
	passed *bool
	code   int // the bearer middleware's own status, 0 if it wrote none
}

func (w *rejectionWriter) WriteHeader(code int) {
	if *w.passed {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.code = code
}

func (w *rejectionWriter) Write(b []byte) (int, error) {
	if w.code != 0 {
		return len(b), nil // replaced by the problem document
	}
	return w.ResponseWriter.Write(b)
}

// finish writes the problem document for a rejection.
func (w *rejectionWriter) finish() {
	switch {
	case w.code == 0:
	case w.code == http.StatusUnauthorized:
		w.ResponseWriter.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		problem.Write(w.ResponseWriter, w.r, problem.New(w.code, "A valid access token is required."))
	default:
		problem.Write(w.ResponseWriter, w.r, problem.New(w.code, "The access token could not be checked."))
	}
}

func (w *rejectionWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
