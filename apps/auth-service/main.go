// Command auth-service is the system's identity provider: it keeps user
// accounts, checks passwords (argon2id, throttled), issues ES256 access
// tokens with rotating refresh tokens, and publishes its public keys as a
// JWKS for the gateway and the services to verify tokens with.
package main

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/pms-dapr/pms/apps/auth-service/internal/authapi"
	"github.com/pms-dapr/pms/apps/auth-service/internal/identity"
	"github.com/pms-dapr/pms/apps/auth-service/internal/identitydb"
	"github.com/pms-dapr/pms/apps/auth-service/internal/signing"
	"github.com/pms-dapr/pms/platform/appconfig"
	"github.com/pms-dapr/pms/platform/httpserver"
	"github.com/pms-dapr/pms/platform/pgdb"
	"github.com/pms-dapr/pms/platform/service"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if appconfig.HandleHelp(os.Args, os.Stdout, command()) {
		return
	}
	log := service.NewLogger("auth-service")
	// `auth-service migrate` is the separate migration step, as the database owner.
	if err := pgdb.RunOrMigrate(ctx, log, "auth", identitydb.Migrations(), run); err != nil {
		log.Error("auth-service stopped with an error", "err", err)
		os.Exit(1)
	}
}

// loginFailLimit is how many failed logins a minute stop an account (softly)
// and a client address.
const loginFailLimit = 5

func run(ctx context.Context, log *slog.Logger) error {
	var cfg config
	if err := appconfig.Load(ctx, &cfg); err != nil {
		return err
	}
	log.Info("configuration", appconfig.LogAttrs(cfg)...)
	service.ProfileOnSignal(ctx, log, "auth-service", cfg.Profiling)
	keys, err := loadKeys(cfg, log)
	if err != nil {
		return err
	}
	pool, err := pgdb.Connect(ctx, log, cfg.Database, identitydb.Migrations(), time.Minute)
	if err != nil {
		return err
	}
	defer pool.Close()
	accounts, err := identity.NewService(identitydb.New(pool), keys, identity.Options{
		Hash:       identity.OWASPParams,
		RefreshTTL: cfg.RefreshTTL,
		SessionTTL: cfg.SessionTTL,
		// Failures live in the database, so every replica counts them all.
		Throttle:  identity.NewSharedThrottle(loginFailLimit, time.Minute, identitydb.NewFailures(pool)),
		HashSlots: hashSlots(identity.OWASPParams),
		HashWait:  2 * time.Second,
	})
	if err != nil {
		return err
	}
	if cfg.AdminEmail != "" {
		created, err := accounts.EnsureAdmin(ctx, cfg.AdminEmail, cfg.AdminPassword)
		if err != nil {
			return fmt.Errorf("bootstrap admin: %w", err)
		}
		if created {
			log.Info("bootstrap admin created", "email", cfg.AdminEmail)
		}
	}
	health := httpserver.Health{Log: log, Checks: map[string]httpserver.Check{"database": pool.Ping}}
	h := authapi.Routes(accounts, keys, authapi.Config{Issuer: cfg.Issuer, AppAPIToken: cfg.AppAPIToken}, health, log)
	return httpserver.ListenAndServe(ctx, log, net.JoinHostPort(cfg.ListenHost, cfg.Port), h)
}

// hashSlots is how many password hashes may run at once: a quarter of the
// memory limit (GOMEMLIMIT) divided by one hash's memory, at least one and
// no more than the CPUs, which argon2id keeps busy anyway.
func hashSlots(p identity.Argon2Params) int {
	slots := runtime.NumCPU()
	if limit := debug.SetMemoryLimit(-1); limit != math.MaxInt64 {
		slots = min(slots, int(limit/4/(int64(p.MemoryKiB)*1024)))
	}
	return max(1, slots)
}

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
