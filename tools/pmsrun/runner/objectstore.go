package runner

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/rclone/gofakes3"
	"github.com/rclone/gofakes3/s3mem"
)

// DevObjectStore is an S3-compatible object store in memory (rclone's
// gofakes3), standing in for S3 where there is none: the one-node
// cluster's PostgreSQL archives its WAL and base backups to it with
// pgBackRest. It serves HTTPS only, as pgBackRest's S3 driver speaks
// nothing else, and answers only requests signed (AWS Signature V4) with
// its one access key. Its objects live as long as the process.
type DevObjectStore struct {
	srv *http.Server
	// Addr is the address it listens on (host:port).
	Addr string
}

// ObjectStoreConfig says where and how a DevObjectStore serves.
type ObjectStoreConfig struct {
	Listen    string          // host:port
	TLS       tls.Certificate // the server's certificate and key
	Bucket    string          // created at start
	AccessKey string
	SecretKey string
}

// ServeDevObjectStore starts the store with cfg's bucket created. Both
// keys are required: gofakes3 answers unsigned requests when it knows no
// key, and a store of backups must never do that.
func ServeDevObjectStore(cfg ObjectStoreConfig) (*DevObjectStore, error) {
	if cfg.AccessKey == "" || cfg.SecretKey == "" {
		return nil, errors.New("object store: an access key and a secret key are required")
	}
	if cfg.Bucket == "" {
		return nil, errors.New("object store: a bucket name is required")
	}
	backend := s3mem.New()
	if err := backend.CreateBucket(context.Background(), cfg.Bucket); err != nil {
		return nil, fmt.Errorf("object store: create bucket %q: %w", cfg.Bucket, err)
	}
	s3 := gofakes3.New(backend,
		gofakes3.WithV4Auth(map[string]string{cfg.AccessKey: cfg.SecretKey}),
		gofakes3.WithoutVersioning())
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("object store: %w", err)
	}
	srv := &http.Server{
		Handler:           s3.Server(),
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cfg.TLS}, MinVersion: tls.VersionTLS12},
	}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	return &DevObjectStore{srv: srv, Addr: ln.Addr().String()}, nil
}

// Stop closes the listener and every connection.
func (s *DevObjectStore) Stop() { _ = s.srv.Close() }
