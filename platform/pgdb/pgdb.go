// Package pgdb opens a service's PostgreSQL pool and applies its embedded
// migrations at start, so a service never runs against an outdated schema.
package pgdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/pms-dapr/pms/platform/tracing"
)

// Open connects to url, waiting up to wait for the server to accept
// connections (a database that starts beside the service may lag behind it).
func Open(ctx context.Context, log *slog.Logger, url string, wait time.Duration) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("pgdb.open: parse url: %w", err)
	}
	if tracing.Enabled() {
		cfg.ConnConfig.Tracer = tracing.PGX{} // each query a span of its request
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgdb.open: %w", err)
	}
	deadline := time.Now().Add(wait)
	for {
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		err = pool.Ping(pctx)
		cancel()
		if err == nil {
			return pool, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			pool.Close()
			return nil, fmt.Errorf("pgdb.open: ping %s@%s/%s: %w", cfg.ConnConfig.User, cfg.ConnConfig.Host, cfg.ConnConfig.Database, err)
		}
		log.Warn("database not reachable yet, retrying", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// Dir returns the migrations directory of an embedded file system (a
// service embeds migrations/*.sql and hands the result to Migrate).
func Dir(embedded fs.FS) fs.FS {
	sub, _ := fs.Sub(embedded, "migrations") // fails only for an invalid path, which this is not
	return sub
}

// Migrate applies every pending migration in migrations (goose SQL files at
// its root) to the database behind pool, holding a PostgreSQL advisory lock
// so that concurrent starts do not race.
func Migrate(ctx context.Context, log *slog.Logger, pool *pgxpool.Pool, migrations fs.FS) error {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	return migrateDB(ctx, log, db, migrations)
}

func migrateDB(ctx context.Context, log *slog.Logger, db *sql.DB, migrations fs.FS) error {
	// An advisory lock makes replicas that start together migrate once.
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return fmt.Errorf("pgdb.migrate: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations, goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("pgdb.migrate: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		var partial *goose.PartialError
		if errors.As(err, &partial) {
			return fmt.Errorf("pgdb.migrate: %s: %w", partial.Failed.Source.Path, partial.Err)
		}
		return fmt.Errorf("pgdb.migrate: %w", err)
	}
	for _, r := range results {
		log.Info("migration applied", "version", r.Source.Version, "file", r.Source.Path)
	}
	return nil
}

// NullIfEmpty is s as a query or COPY argument: NULL for "".
func NullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
