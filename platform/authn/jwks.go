package authn

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/MicahParks/jwkset"
)

// KeyID is the kid of an ES256 public key: its RFC 7638 thumbprint, so the
// same key always has the same id wherever it is published.
func KeyID(pub *ecdsa.PublicKey) (string, error) {
	if pub.Curve != elliptic.P256() {
		return "", errors.New("authn: keys must be ECDSA P-256 (ES256)")
	}
	raw, err := pub.Bytes() // 0x04 || X || Y
	if err != nil {
		return "", fmt.Errorf("authn: %w", err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	// The members, in lexicographic order and without whitespace (§3.2).
	canonical, err := json.Marshal(struct {
		Crv string `json:"crv"`
		Kty string `json:"kty"`
		X   string `json:"x"`
		Y   string `json:"y"`
	}{"P-256", "EC", enc(raw[1:33]), enc(raw[33:])})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(canonical)
	return enc(sum[:]), nil
}

// PublicJWKS renders keys as the JWKS document verifiers fetch: each an
// ES256 signing key whose kid is KeyID.
func PublicJWKS(keys ...*ecdsa.PublicKey) ([]byte, error) {
	set := jwkset.NewMemoryStorage()
	for _, k := range keys {
		kid, err := KeyID(k)
		if err != nil {
			return nil, err
		}
		jwk, err := jwkset.NewJWKFromKey(k, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{
			ALG: jwkset.AlgES256, KID: kid, USE: jwkset.UseSig,
		}})
		if err != nil {
			return nil, fmt.Errorf("authn: jwk: %w", err)
		}
		if err := set.KeyWrite(context.Background(), jwk); err != nil {
			return nil, fmt.Errorf("authn: jwk: %w", err)
		}
	}
	doc, err := set.JSONPublic(context.Background())
	if err != nil {
		return nil, fmt.Errorf("authn: jwks: %w", err)
	}
	return doc, nil
}
