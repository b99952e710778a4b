// Command auth-service is the system's identity provider: it keeps user
// accounts, checks passwords (argon2id, throttled), issues ES256 access
// tokens with rotating refresh tokens, and publishes its public keys as a
// JWKS for the gateway and the services to verify tokens with.
package main

import (
	"context"

	"github.com/pms-dapr/pms/apps/auth-service/internal/authapi"
	"github.com/pms-dapr/pms/apps/auth-service/internal/identitydb"
	"github.com/pms-dapr/pms/platform/service"
)

func main() {
	service.Main(service.App[config]{Command: command(), Database: "auth", Migrations: identitydb.Migrations(), Run: run})
}

func run(ctx context.Context, cfg config, p *service.Process) error {
	keys, err := loadKeys(cfg, p.Log)
	if err != nil {
		return err
	}
	accounts, err := newAccounts(p.DB, keys, cfg)
	if err != nil {
		return err
	}
	if err := bootstrapAdmin(ctx, accounts, cfg, p.Log); err != nil {
		return err
	}
	logins := authapi.NewLoginCounter()
	p.Metrics.MustRegister(logins)
	h := authapi.Routes(accounts, keys, authapi.Config{Issuer: cfg.Issuer, AppAPIToken: cfg.AppAPIToken, Logins: logins}, p.Health, p.Log)
	return p.Serve(ctx, cfg.Port, h)
}
