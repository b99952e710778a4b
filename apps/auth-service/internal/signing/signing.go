// Package signing holds auth-service's signing keys: it issues ES256 access
// tokens with the current key and publishes the public half of the current
// and the next key as a JWKS, so verifiers (which cache the JWKS) already
// know a key before it is used.
package signing

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/pms-dapr/pms/apps/auth-service/internal/identity"
	"github.com/pms-dapr/pms/platform/authn"
)

// AccessTokenTTL is how long an access token is valid.
const AccessTokenTTL = 15 * time.Minute

// Keys signs access tokens.
type Keys struct {
	current  *ecdsa.PrivateKey
	kid      string
	jwks     json.RawMessage
	verifier *authn.Verifier
	issuer   string
	audience string
}

// New returns Keys signing with current (and also publishing next, if not
// nil) for tokens from issuer to audience.
func New(current, next *ecdsa.PrivateKey, issuer, audience string) (*Keys, error) {
	kid, err := authn.KeyID(&current.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	public := []*ecdsa.PublicKey{&current.PublicKey}
	if next != nil {
		public = append(public, &next.PublicKey)
	}
	jwks, err := authn.PublicJWKS(public...)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	verifier, err := authn.NewStaticVerifier(jwks, issuer, audience)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	return &Keys{current: current, kid: kid, jwks: jwks, verifier: verifier, issuer: issuer, audience: audience}, nil
}

// KeyID is the kid of the signing key.
func (k *Keys) KeyID() string { return k.kid }

// JWKS is the public key set (current and next key) as a JWKS document.
func (k *Keys) JWKS() json.RawMessage { return k.jwks }

// Sign issues an access token for u: ES256 with the current key's kid,
// typ at+jwt (RFC 9068).
func (k *Keys) Sign(u identity.User, now time.Time) (string, time.Duration, error) {
	now = now.Truncate(time.Second)
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, authn.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    k.issuer,
			Audience:  jwt.ClaimStrings{k.audience},
			Subject:   u.ID,
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(AccessTokenTTL)),
			ID:        uuid.NewString(),
		},
		Email: u.Email,
		Role:  u.Role,
	})
	tok.Header["kid"] = k.kid
	tok.Header["typ"] = authn.TokenType
	signed, err := tok.SignedString(k.current)
	if err != nil {
		return "", 0, fmt.Errorf("signing.sign: %w", err)
	}
	return signed, AccessTokenTTL, nil
}

// LoadKey reads an EC private key from a PEM file (PKCS#8 or SEC 1).
func LoadKey(path string) (*ecdsa.PrivateKey, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("signing.load_key: %w", err)
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, fmt.Errorf("signing.load_key: %s holds no PEM block", path)
	}
	if k, err := x509.ParseECPrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("signing.load_key: %s: %w", path, err)
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("signing.load_key: %s is not an EC key", path)
	}
	return ec, nil
}

// LoadOrCreateDevKey returns the key at path, creating a new P-256 key there
// (mode 0600) when the file does not exist. For development only: a real
// deployment mounts its key from a secret.
func LoadOrCreateDevKey(path string) (*ecdsa.PrivateKey, bool, error) {
	if _, err := os.Stat(path); err == nil {
		k, err := LoadKey(path)
		return k, false, err
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, false, fmt.Errorf("signing.dev_key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("signing.dev_key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("signing.dev_key: %w", err)
	}
	defer f.Close()
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		return nil, false, fmt.Errorf("signing.dev_key: %w", err)
	}
	return k, true, nil
}

// Verify checks an access token against the published keys, with the
// rules every service applies (auth-service authorises its own admin routes
// with it).
func (k *Keys) Verify(raw string) (authn.Identity, error) {
	id, err := k.verifier.Verify(context.Background(), raw)
	if err != nil {
		return authn.Identity{}, fmt.Errorf("signing.verify: %w", err)
	}
	return id, nil
}
