package runner

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"io"
	"math/big"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// selfSigned returns a certificate for 127.0.0.1 and a client that trusts
// only it.
func selfSigned(t *testing.T) (tls.Certificate, *http.Client) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "object-store"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, client
}

// signed sends a request signed with the given keys, as pgBackRest does
// (the payload's SHA-256 signed too), and returns the status and body.
func signed(t *testing.T, c *http.Client, method, url string, body []byte, access, secret string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	require.NoError(t, err)
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", hash)
	if access != "" {
		creds := aws.Credentials{AccessKeyID: access, SecretAccessKey: secret}
		require.NoError(t, v4.NewSigner().SignHTTP(context.Background(), creds, req, hash, "s3", "us-east-1", time.Now()))
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestDevObjectStoreServesOnlySignedRequestsOverTLS(t *testing.T) {
	cert, client := selfSigned(t)
	s, err := ServeDevObjectStore(ObjectStoreConfig{
		Listen: "127.0.0.1:0", TLS: cert, Bucket: "backups", AccessKey: "backup", SecretKey: "s3cret",
	})
	require.NoError(t, err)
	t.Cleanup(s.Stop)
	base := "https://" + s.Addr + "/backups/pms/archive.info"

	status, _ := signed(t, client, http.MethodPut, base, []byte("segment"), "backup", "s3cret")
	require.Equal(t, http.StatusOK, status, "the bucket exists from the start and takes a signed write")
	status, body := signed(t, client, http.MethodGet, base, nil, "backup", "s3cret")
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "segment", body)

	for name, keys := range map[string][2]string{
		"unsigned":     {"", ""},
		"wrong secret": {"backup", "guess"},
		"unknown key":  {"other", "s3cret"},
	} {
		status, _ := signed(t, client, http.MethodGet, base, nil, keys[0], keys[1])
		assert.Equal(t, http.StatusForbidden, status, name)
	}

	// Plain HTTP is not served.
	resp, err := http.Get("http://" + s.Addr + "/backups/pms/archive.info")
	if err == nil {
		resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "an HTTP request to the TLS port")
	}
}

func TestDevObjectStoreRefusesToStartOpen(t *testing.T) {
	cert, _ := selfSigned(t)
	for _, cfg := range []ObjectStoreConfig{
		{Listen: "127.0.0.1:0", TLS: cert, Bucket: "b", SecretKey: "s"},
		{Listen: "127.0.0.1:0", TLS: cert, Bucket: "b", AccessKey: "a"},
		{Listen: "127.0.0.1:0", TLS: cert, AccessKey: "a", SecretKey: "s"},
	} {
		_, err := ServeDevObjectStore(cfg)
		assert.Error(t, err, "%+v", cfg)
	}
}
