// Package authntest makes access tokens for tests: valid ones from a given
// key, and each kind of forgery a verifier must refuse.
package authntest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pms-dapr/pms/platform/authn"
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
	kid, err := authn.KeyID(&k.PublicKey)
	if err != nil {
		return nil, err
	}
	return &Signer{Key: k, KID: kid, Issuer: issuer, Audience: audience}, nil
}

// JWKS is the public key set to verify this signer's tokens with.
func (s *Signer) JWKS() []byte {
	b, err := authn.PublicJWKS(&s.Key.PublicKey)
	if err != nil {
		panic(err) // test helper: a P-256 key always renders
	}
	return b
}

// Claims are the claims of a token to make; zero fields get valid values.
type Claims struct {
	Subject, Email, Role string
	Issuer, Audience     string
	IssuedAt, Expires    time.Time
	NoExpiry             bool   // leave exp out
	Type                 string // typ header; "" means at+jwt
}

func (s *Signer) claims(c Claims) jwt.MapClaims {
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
	m := jwt.MapClaims{"iss": c.Issuer, "aud": []string{c.Audience}, "sub": c.Subject, "email": c.Email,
		"role": c.Role, "iat": c.IssuedAt.Unix(), "nbf": c.IssuedAt.Unix(), "exp": c.Expires.Unix()}
	if c.NoExpiry {
		delete(m, "exp")
	}
	return m
}

// Token signs c with the signer's key and kid (ES256).
func (s *Signer) Token(c Claims) string { return s.tokenWithKID(c, s.KID) }

func (s *Signer) tokenWithKID(c Claims, kid string) string {
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, s.claims(c))
	tok.Header["kid"] = kid
	tok.Header["typ"] = authn.TokenType
	if c.Type != "" {
		tok.Header["typ"] = c.Type
	}
	signed, err := tok.SignedString(s.Key)
	if err != nil {
		panic(err) // test helper: a valid key always signs
	}
	return signed
}

// Forgeries returns, by name, tokens a verifier trusting this signer must
// reject: expired, without exp, of another type, signed by another key,
// unsigned (alg none), HMAC-signed with the public key, wrong issuer, wrong
// audience, tampered payload, unknown kid, no kid, malformed.
func (s *Signer) Forgeries() map[string]string {
	other, _ := NewSigner(s.Issuer, s.Audience)
	other.KID = s.KID // claims to be our key
	valid := s.Token(Claims{})
	parts := strings.Split(valid, ".")
	tampered := s.claims(Claims{Role: "admin", Subject: "00000000-0000-4000-8000-000000000000"})
	return map[string]string{
		"expired":          s.Token(Claims{IssuedAt: time.Now().Add(-2 * time.Hour), Expires: time.Now().Add(-time.Hour)}),
		"no exp":           s.Token(Claims{NoExpiry: true}),
		"typ JWT":          s.Token(Claims{Type: "JWT"}),
		"other key":        other.Token(Claims{}),
		"alg none":         unsigned(map[string]any{"alg": "none", "kid": s.KID, "typ": authn.TokenType}, s.claims(Claims{})),
		"hs256 public key": s.hmacWithPublicKey(),
		"wrong issuer":     s.Token(Claims{Issuer: "https://evil.example"}),
		"wrong audience":   s.Token(Claims{Audience: "another-api"}),
		"tampered payload": parts[0] + "." + b64json(tampered) + "." + parts[2],
		"unknown kid":      s.tokenWithKID(Claims{}, "no-such-key"),
		"no kid":           s.withoutKID(),
		"malformed":        "not.a.jwt",
		"garbage":          "bearer-garbage-0123456789",
	}
}

func (s *Signer) withoutKID() string {
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, s.claims(Claims{}))
	tok.Header["typ"] = authn.TokenType
	signed, _ := tok.SignedString(s.Key)
	return signed
}

func (s *Signer) hmacWithPublicKey() string {
	der, _ := x509.MarshalPKIXPublicKey(&s.Key.PublicKey)
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, s.claims(Claims{}))
	tok.Header["kid"] = s.KID
	tok.Header["typ"] = authn.TokenType
	signed, _ := tok.SignedString(der)
	return signed
}

// RSASigner signs RS256 tokens with an RSA key whose public half a
// stand-in JWKS can publish beside the ES256 key: a verifier that pins
// ES256 must refuse its tokens although it trusts the key.
type RSASigner struct {
	Key *rsa.PrivateKey
	KID string
}

// NewRSASigner returns an RSASigner with a fresh 2048-bit key.
func NewRSASigner() (*RSASigner, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	return &RSASigner{Key: k, KID: "rsa-key"}, nil
}

// JWK is the public key as a JWKS member (alg RS256).
func (r *RSASigner) JWK() map[string]any {
	enc := base64.RawURLEncoding.EncodeToString
	return map[string]any{"kty": "RSA", "kid": r.KID, "alg": "RS256", "use": "sig",
		"n": enc(r.Key.N.Bytes()), "e": enc(big.NewInt(int64(r.Key.E)).Bytes())}
}

// Token signs claims otherwise valid for s with the RSA key (RS256).
func (r *RSASigner) Token(s *Signer) string {
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, s.claims(Claims{}))
	tok.Header["kid"] = r.KID
	tok.Header["typ"] = authn.TokenType
	signed, err := tok.SignedString(r.Key)
	if err != nil {
		panic(err)
	}
	return signed
}

func unsigned(header map[string]any, claims jwt.MapClaims) string {
	return b64json(header) + "." + b64json(claims) + "."
}

func b64json(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}
