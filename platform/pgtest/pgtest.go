// Package pgtest gives store tests a fresh, migrated PostgreSQL database per
// test: migrations run once into a template database per package, and each
// test gets a cheap clone of it (CREATE DATABASE ... TEMPLATE).
//
// The server comes from PMS_TEST_DATABASE_URL (set by `make test`, which
// starts a throwaway cluster). Without it the tests fail: a store test that
// cannot reach PostgreSQL never passes silently.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pms-dapr/pms/platform/pgdb"
)

// EnvURL names the variable holding the admin URL of the test server.
const EnvURL = "PMS_TEST_DATABASE_URL"

// Template is one package's migrated template database.
type Template struct {
	migrations fs.FS
	once       sync.Once
	name       string
	err        error
}

// NewTemplate prepares a template from migrations; the database is created on
// first use.
func NewTemplate(migrations fs.FS) *Template { return &Template{migrations: migrations} }

// Pool returns a pool on a new database cloned from the template, dropped
// when the test ends.
func (tp *Template) Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	admin := os.Getenv(EnvURL)
	if admin == "" {
		t.Fatalf("%s is not set: store tests need PostgreSQL; run `make test`, or point %s at a server where the user may create databases", EnvURL, EnvURL)
	}
	ctx := context.Background()
	tp.once.Do(func() { tp.name, tp.err = tp.create(ctx, admin) })
	if tp.err != nil {
		t.Fatalf("pgtest: template: %v", tp.err)
	}
	name := "test_" + randomHex()
	if err := exec(ctx, admin, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, tp.name)); err != nil {
		t.Fatalf("pgtest: clone template: %v", err)
	}
	pool, err := pgxpool.New(ctx, withDatabase(admin, name))
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	t.Cleanup(func() {
		pool.Close()
		_ = exec(context.Background(), admin, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name))
	})
	return pool
}

func (tp *Template) create(ctx context.Context, admin string) (string, error) {
	name := "tmpl_" + randomHex()
	if err := exec(ctx, admin, "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	log := slog.New(slog.DiscardHandler)
	pool, err := pgdb.Open(ctx, log, withDatabase(admin, name), 5*time.Second)
	if err != nil {
		return "", err
	}
	defer pool.Close()
	if err := pgdb.Migrate(ctx, log, pool, tp.migrations); err != nil {
		return "", err
	}
	return name, nil
}

func exec(ctx context.Context, admin, sql string) error {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return fmt.Errorf("connect %s: %w", EnvURL, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	return nil
}

func withDatabase(raw, db string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.Path = "/" + db
	return u.String()
}

func randomHex() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
