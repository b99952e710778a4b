package pgdb

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/pms-dapr/pms/platform/appconfig"
)

// Config is how a service reaches its database.
type Config struct {
	URL     string `env:"DATABASE_URL, required" secret:"url" help:"The service's runtime login on its own database (postgres:// URL); sslmode=verify-full unless DATABASE_DEV_MODE=true. A private CA goes in as sslrootcert=."`
	DevMode bool   `env:"DATABASE_DEV_MODE" help:"true lets the service connect without verified TLS and as a superuser or the database's owner. Development only."`
}

// Validate refuses a connection that would not verify the server, outside
// development.
func (c Config) Validate() error { return CheckTLS("DATABASE_URL", c.URL, c.DevMode) }

// MigrateConfig is what a service's migrate step reads.
type MigrateConfig struct {
	OwnerURL string `env:"MIGRATE_DATABASE_URL, required" secret:"url" help:"The database owner's login, which applies the migrations (the running service never holds it)."`
	AdminURL string `env:"MIGRATE_ADMIN_URL" secret:"url" help:"A role that may create roles and databases: when set, the step first provisions the database, the owner and the app login (idempotent)."`
	AppURL   string `env:"DATABASE_URL" secret:"url" help:"With MIGRATE_ADMIN_URL: the app login to provision (the service's runtime login)."`
	DevMode  bool   `env:"DATABASE_DEV_MODE" help:"true allows connections without verified TLS. Development only."`
}

// Validate applies the TLS rule to every URL given.
func (c MigrateConfig) Validate() error {
	if err := CheckTLS("MIGRATE_DATABASE_URL", c.OwnerURL, c.DevMode); err != nil {
		return err
	}
	if c.AdminURL == "" {
		return nil
	}
	return CheckTLS("MIGRATE_ADMIN_URL", c.AdminURL, c.DevMode)
}

// CheckTLS refuses a connection string that would not verify the server's
// certificate and host name (sslmode=verify-full), unless devMode.
func CheckTLS(name, connString string, devMode bool) error {
	if devMode {
		return nil
	}
	cfg, err := pgconn.ParseConfig(connString)
	if err != nil {
		return fmt.Errorf("config: %s: %w", name, err)
	}
	verified := func(c *tls.Config) bool {
		return c != nil && !c.InsecureSkipVerify && c.ServerName != ""
	}
	ok := verified(cfg.TLSConfig)
	for _, fb := range cfg.Fallbacks {
		ok = ok && verified(fb.TLSConfig)
	}
	if !ok {
		return fmt.Errorf("config: %s must use sslmode=verify-full (TLS with the server's certificate and host name verified); DATABASE_DEV_MODE=true allows otherwise, for development only", name)
	}
	return nil
}

// Connect opens the service's pool (waiting up to wait for the server),
// refuses a privileged role outside development, and waits, up to wait
// again, until the migration step has brought the schema up to the
// service's migrations: the service itself never migrates.
func Connect(ctx context.Context, log *slog.Logger, cfg Config, migrations fs.FS, wait time.Duration) (*pgxpool.Pool, error) {
	pool, err := Open(ctx, log, cfg.URL, wait)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			pool.Close()
		}
	}()
	var super, owner bool
	if err := pool.QueryRow(ctx, `
SELECT r.rolsuper, pg_has_role(current_user, d.datdba, 'MEMBER')
FROM pg_roles r, pg_database d
WHERE r.rolname = current_user AND d.datname = current_database()`).Scan(&super, &owner); err != nil {
		return nil, fmt.Errorf("pgdb.connect: role check: %w", err)
	}
	if super || owner {
		if !cfg.DevMode {
			return nil, errors.New("pgdb.connect: DATABASE_URL logs in as a superuser or the database's owner; run the service as its runtime role (docs/security.md, \"Least privilege in PostgreSQL\")")
		}
		log.Warn("DEVELOPMENT database login: the service connects as a superuser or the database's owner")
	}
	if err := awaitMigrated(ctx, log, pool, migrations, wait); err != nil {
		return nil, err
	}
	ok = true
	return pool, nil
}

// awaitMigrated waits until every migration in migrations is recorded as
// applied in the database behind pool.
func awaitMigrated(ctx context.Context, log *slog.Logger, pool *pgxpool.Pool, migrations fs.FS, wait time.Duration) error {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	deadline := time.Now().Add(wait)
	for {
		pending, err := hasPending(ctx, db, migrations)
		if err == nil && !pending {
			return nil
		}
		reason := "migrations pending"
		if err != nil {
			reason = err.Error()
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("pgdb.connect: the schema is not migrated (%s): run the service's migrate step first (`<service> migrate` with MIGRATE_DATABASE_URL)", reason)
		}
		log.Warn("waiting for the schema to be migrated", "reason", reason)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func hasPending(ctx context.Context, db *sql.DB, migrations fs.FS) (bool, error) {
	// Without the version table, goose would try to create it, which the
	// runtime role may not: look first.
	var exists bool
	if err := db.QueryRowContext(ctx, `SELECT to_regclass('goose_db_version') IS NOT NULL`).Scan(&exists); err != nil {
		return false, err
	}
	if !exists {
		return true, nil
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations)
	if err != nil {
		return false, err
	}
	return p.HasPending(ctx)
}

// MigrateCommand is a service's `migrate` step. It applies the service's
// migrations as the database owner named by MIGRATE_DATABASE_URL (the
// running service never holds that login) and exits. Given MIGRATE_ADMIN_URL
// (a role that may create roles and databases) it first provisions the
// database (Provision): the owner from MIGRATE_DATABASE_URL, the app login
// from DATABASE_URL, and the runtime group service_runtime that the
// service's migrations grant to. DATABASE_DEV_MODE relaxes the TLS rule as
// for the service.
func MigrateCommand(ctx context.Context, log *slog.Logger, service string, migrations fs.FS) error {
	var cfg MigrateConfig
	if err := appconfig.Load(ctx, &cfg); err != nil {
		return err
	}
	if cfg.AdminURL != "" {
		plan, err := planFrom(service, cfg.OwnerURL, cfg.AppURL)
		if err != nil {
			return err
		}
		if err := Provision(ctx, cfg.AdminURL, plan); err != nil {
			return err
		}
		log.Info("database provisioned", "database", plan.Database, "owner", plan.Owner, "app", plan.App)
	}
	pool, err := Open(ctx, log, cfg.OwnerURL, time.Minute)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := Migrate(ctx, log, pool, migrations); err != nil {
		return err
	}
	log.Info("schema up to date")
	return nil
}

// planFrom is the provisioning plan the owner's and the app's connection
// strings describe.
func planFrom(service, ownerURL, appURL string) (Plan, error) {
	if appURL == "" {
		return Plan{}, errors.New("migrate: MIGRATE_ADMIN_URL needs DATABASE_URL too (the app login to provision)")
	}
	o, err := pgconn.ParseConfig(ownerURL)
	if err != nil {
		return Plan{}, fmt.Errorf("migrate: MIGRATE_DATABASE_URL: %w", err)
	}
	a, err := pgconn.ParseConfig(appURL)
	if err != nil {
		return Plan{}, fmt.Errorf("migrate: DATABASE_URL: %w", err)
	}
	if a.Database != o.Database || a.User == o.User {
		return Plan{}, errors.New("migrate: DATABASE_URL and MIGRATE_DATABASE_URL must name the same database and different logins")
	}
	return Plan{
		Database:      o.Database,
		Roles:         Roles{Owner: o.User, Runtime: service + "_runtime", App: a.User},
		OwnerPassword: o.Password, AppPassword: a.Password,
	}, nil
}

// Command describes a database-backed service's command line (--help and
// docs/configuration.md): serving, with cfg, and its migrate step.
func Command(app, summary string, cfg any) appconfig.Command {
	return appconfig.Command{
		App:     app,
		Summary: summary,
		Sections: []appconfig.Section{
			{Title: app, Doc: "Serves beside its Dapr sidecar until SIGINT or SIGTERM; waits (a minute) for its schema to be migrated.", Config: cfg},
			{Title: app + " migrate", Doc: "Applies the migrations as the database owner (and provisions the database first, given MIGRATE_ADMIN_URL), then exits.", Config: MigrateConfig{}},
		},
	}
}
