// Package authntest makes access tokens for tests: valid ones from a given
// key, and each kind of forgery a verifier must refuse.
package authntest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// Signer signs tokens with one EC P-256 key, as auth-service does.
type Signer struct {
	Key      *ecdsa.PrivateKey
	KID      string
	Issuer   string
	Audience string
}

// NewSigner returns a Signer with a fresh key.
func NewSigner(issuer, audience string) (*Signer, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return FromKey(k, issuer, audience)
}

// FromKey returns a Signer for k, whose kid is its RFC 7638 thumbprint (as
// auth-service assigns it).
func FromKey(k *ecdsa.PrivateKey, issuer, audience string) (*Signer, error) {
	jk, err := jwk.FromRaw(k)
	if err != nil {
		return nil, err
	}
	if err := jwk.AssignKeyID(jk); err != nil {
		return nil, err
	}
	return &Signer{Key: k, KID: jk.KeyID(), Issuer: issuer, Audience: audience}, nil
}

// JWKS is the public key set to verify this signer's tokens with.
func (s *Signer) JWKS() []byte {
	jk, _ := jwk.FromRaw(&s.Key.PublicKey)
	_ = jk.Set(jwk.KeyIDKey, s.KID)
	_ = jk.Set(jwk.AlgorithmKey, jwa.ES256)
	set := jwk.NewSet()
	_ = set.AddKey(jk)
	b, _ := json.Marshal(set)
	return b
}

// Claims are the claims of a token to make; zero fields get valid values.
type Claims struct {
	Subject, Email, Role string
	Issuer, Audience     string
	IssuedAt, Expires    time.Time
}

func (s *Signer) fill(c Claims) Claims {
	now := time.Now()
	if c.Subject == "" {
		c.Subject = "3f0c8a4e-8d7e-4d1a-9a51-6a3c2b1d0e0f"
	}
	if c.Role == "" {
		c.Role = "admin"
	}
	if c.Email == "" {
		c.Email = c.Role + "@example.com"
	}
	if c.Issuer == "" {
		c.Issuer = s.Issuer
	}
	if c.Audience == "" {
		c.Audience = s.Audience
	}
	if c.IssuedAt.IsZero() {
		c.IssuedAt = now
	}
	if c.Expires.IsZero() {
		c.Expires = c.IssuedAt.Add(15 * time.Minute)
	}
	return c
}

func (s *Signer) claimsJSON(c Claims) map[string]any {
	c = s.fill(c)
	return map[string]any{"iss": c.Issuer, "aud": []string{c.Audience}, "sub": c.Subject, "email": c.Email,
		"role": c.Role, "iat": c.IssuedAt.Unix(), "nbf": c.IssuedAt.Unix(), "exp": c.Expires.Unix()}
}

// Token signs c with the signer's key and kid (ES256).
func (s *Signer) Token(c Claims) string { return s.tokenWithKID(c, s.KID) }

func (s *Signer) tokenWithKID(c Claims, kid string) string {
	tok := jwt.New()
	for k, v := range s.claimsJSON(c) {
		_ = tok.Set(k, v)
	}
	hdr := jws.NewHeaders()
	_ = hdr.Set(jws.KeyIDKey, kid)
	b, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256, s.Key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		panic(err) // test helper: a valid key always signs
	}
	return string(b)
}

// Forgeries returns, by name, tokens a verifier trusting this signer must
// reject: expired, signed by another key, unsigned (alg none), HMAC-signed
// with the public key, wrong issuer, wrong audience, tampered payload,
// unknown kid, malformed.
func (s *Signer) Forgeries() map[string]string {
	other, _ := NewSigner(s.Issuer, s.Audience)
	other.KID = s.KID // claims to be our key
	valid := s.Token(Claims{})
	parts := strings.Split(valid, ".")
	tampered := s.claimsJSON(Claims{Role: "admin", Subject: "00000000-0000-4000-8000-000000000000"})
	return map[string]string{
		"expired":          s.Token(Claims{IssuedAt: time.Now().Add(-2 * time.Hour), Expires: time.Now().Add(-time.Hour)}),
		"other key":        other.Token(Claims{}),
		"alg none":         unsigned(map[string]any{"alg": "none", "kid": s.KID, "typ": "JWT"}, s.claimsJSON(Claims{})),
		"hs256 public key": s.hmacWithPublicKey(),
		"wrong issuer":     s.Token(Claims{Issuer: "https://evil.example"}),
		"wrong audience":   s.Token(Claims{Audience: "another-api"}),
		"tampered payload": parts[0] + "." + b64json(tampered) + "." + parts[2],
		"unknown kid":      s.tokenWithKID(Claims{}, "no-such-key"),
		"malformed":        "not.a.jwt",
		"garbage":          "bearer-garbage-0123456789",
	}
}

func (s *Signer) hmacWithPublicKey() string {
	der, _ := x509.MarshalPKIXPublicKey(&s.Key.PublicKey)
	signing := b64json(map[string]any{"alg": "HS256", "kid": s.KID, "typ": "JWT"}) + "." + b64json(s.claimsJSON(Claims{}))
	mac := hmac.New(sha256.New, der)
	mac.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func unsigned(header, claims map[string]any) string {
	return b64json(header) + "." + b64json(claims) + "."
}

func b64json(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}
