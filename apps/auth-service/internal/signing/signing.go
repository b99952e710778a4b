// Package signing holds auth-service's signing keys: it issues ES256 access
// tokens with the current key and publishes the public half of the current
// and the next key as a JWKS, so verifiers (which cache the JWKS) already
// know a key before it is used.
package signing

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/pms-dapr/pms/apps/auth-service/internal/identity"
	"github.com/pms-dapr/pms/platform/authn"
)

// AccessTokenTTL is how long an access token is valid.
const AccessTokenTTL = 15 * time.Minute

// Keys signs access tokens.
type Keys struct {
	current  jwk.Key
	public   jwk.Set
	issuer   string
	audience string
}

// New returns Keys signing with current (and also publishing next, if not
// nil) for tokens from issuer to audience.
func New(current, next *ecdsa.PrivateKey, issuer, audience string) (*Keys, error) {
	priv, err := privateJWK(current)
	if err != nil {
		return nil, err
	}
	set := jwk.NewSet()
	for _, k := range []*ecdsa.PrivateKey{current, next} {
		if k == nil {
			continue
		}
		pk, err := privateJWK(k)
		if err != nil {
			return nil, err
		}
		pub, err := pk.PublicKey()
		if err != nil {
			return nil, err
		}
		if err := set.AddKey(pub); err != nil {
			return nil, err
		}
	}
	return &Keys{current: priv, public: set, issuer: issuer, audience: audience}, nil
}

func privateJWK(k *ecdsa.PrivateKey) (jwk.Key, error) {
	if k.Curve != elliptic.P256() {
		return nil, errors.New("signing: keys must be ECDSA P-256 (ES256)")
	}
	key, err := jwk.FromRaw(k)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	if err := jwk.AssignKeyID(key); err != nil { // RFC 7638 thumbprint
		return nil, fmt.Errorf("signing: %w", err)
	}
	_ = key.Set(jwk.AlgorithmKey, jwa.ES256)
	_ = key.Set(jwk.KeyUsageKey, jwk.ForSignature)
	return key, nil
}

// KeyID is the kid of the signing key.
func (k *Keys) KeyID() string { return k.current.KeyID() }

// JWKS is the public key set (current and next key).
func (k *Keys) JWKS() jwk.Set { return k.public }

// Sign issues an access token for u.
func (k *Keys) Sign(u identity.User, now time.Time) (string, time.Duration, error) {
	now = now.Truncate(time.Second)
	tok, err := jwt.NewBuilder().
		Issuer(k.issuer).
		Audience([]string{k.audience}).
		Subject(u.ID).
		IssuedAt(now).
		NotBefore(now).
		Expiration(now.Add(AccessTokenTTL)).
		JwtID(uuid.NewString()).
		Claim("email", u.Email).
		Claim("role", u.Role).
		Build()
	if err != nil {
		return "", 0, fmt.Errorf("signing.sign: %w", err)
	}
	hdr := jws.NewHeaders()
	_ = hdr.Set(jws.TypeKey, "at+jwt") // RFC 9068 access token
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256, k.current, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return "", 0, fmt.Errorf("signing.sign: %w", err)
	}
	return string(signed), AccessTokenTTL, nil
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

// Verify checks an access token against the published keys (auth-service
// authorises its own admin routes with it).
func (k *Keys) Verify(raw string) (authn.Identity, error) {
	tok, err := jwt.Parse([]byte(raw),
		jwt.WithKeySet(k.public, jws.WithInferAlgorithmFromKey(true), jws.WithRequireKid(true)),
		jwt.WithIssuer(k.issuer),
		jwt.WithAudience(k.audience),
		jwt.WithAcceptableSkew(authn.ClockSkew),
		jwt.WithRequiredClaim("exp"),
	)
	if err != nil {
		return authn.Identity{}, fmt.Errorf("signing.verify: %w", err)
	}
	return authn.IdentityOf(tok)
}
