package main

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pms-dapr/pms/apps/auth-service/internal/identity"
	"github.com/pms-dapr/pms/apps/auth-service/internal/identitydb"
	"github.com/pms-dapr/pms/apps/auth-service/internal/signing"
)

// loginFailLimit is how many failed logins a minute stop an account (softly)
// and a client address.
const loginFailLimit = 5

// newAccounts is the identity service over the database behind pool.
func newAccounts(pool *pgxpool.Pool, keys *signing.Keys, cfg config) (*identity.Service, error) {
	return identity.NewService(identitydb.New(pool), keys, identity.Options{
		Hash:       identity.OWASPParams,
		RefreshTTL: cfg.RefreshTTL,
		SessionTTL: cfg.SessionTTL,
		// Failures live in the database, so every replica counts them all.
		Throttle:  identity.NewSharedThrottle(loginFailLimit, time.Minute, identitydb.NewFailures(pool)),
		HashSlots: hashSlots(identity.OWASPParams),
		HashWait:  2 * time.Second,
	})
}

// bootstrapAdmin creates the configured admin account unless an account
// has its email.
func bootstrapAdmin(ctx context.Context, accounts *identity.Service, cfg config, log *slog.Logger) error {
	if cfg.AdminEmail == "" {
		return nil
	}
	created, err := accounts.EnsureAdmin(ctx, cfg.AdminEmail, cfg.AdminPassword)
	if err != nil {
		return fmt.Errorf("bootstrap admin: %w", err)
	}
	if created {
		log.Info("bootstrap admin created", "email", cfg.AdminEmail)
	}
	return nil
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
