package main

import (
	"crypto/ecdsa"
	"log/slog"

	"github.com/pms-dapr/pms/apps/auth-service/internal/signing"
)

// loadKeys reads the signing key (and the next one, if configured); in
// development mode without a key file it uses a generated key kept in
// AUTH_DEV_KEY_FILE, so tokens survive a restart.
func loadKeys(cfg config, log *slog.Logger) (*signing.Keys, error) {
	var current, next *ecdsa.PrivateKey
	var err error
	if cfg.KeyFile != "" {
		current, err = signing.LoadKey(cfg.KeyFile)
	} else {
		var created bool
		current, created, err = signing.LoadOrCreateDevKey(cfg.DevKeyFile)
		log.Warn("DEVELOPMENT signing key in use: set AUTH_SIGNING_KEY_FILE for any real deployment",
			"file", cfg.DevKeyFile, "generated", created)
	}
	if err != nil {
		return nil, err
	}
	if cfg.NextKeyFile != "" {
		if next, err = signing.LoadKey(cfg.NextKeyFile); err != nil {
			return nil, err
		}
	}
	keys, err := signing.New(current, next, cfg.Issuer, cfg.Audience)
	if err != nil {
		return nil, err
	}
	log.Info("signing keys loaded", "kid", keys.KeyID(), "next_key", next != nil, "issuer", cfg.Issuer, "audience", cfg.Audience)
	return keys, nil
}
