// Package pgtest gives store tests a fresh, migrated PostgreSQL database per
// test: migrations run once into a template database per package, and each
// test gets a cheap clone of it (CREATE DATABASE ... TEMPLATE).
//
// The server comes from PMS_TEST_DATABASE_URL (set by `make test`, which
// starts a throwaway cluster). Without it, the package's tests start one
// PostgreSQL container with testcontainers-go on Docker or podman (image
// POSTGRES_IMAGE, default the official postgres:15; see Main), so `go test`
// in an app module needs nothing but a container engine. Without either
// the tests fail: a store test that cannot reach PostgreSQL never passes
// silently.
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

// Template is one package's migrated template database, provisioned as a
// deployment's would be (pgdb.Provision): owned by the service's owner role,
// migrated by that role, and used by tests through the service's app login,
// so a migration that forgets a grant fails the store tests.
type Template struct {
	service    string
	migrations fs.FS
	once       sync.Once
	plan       pgdb.Plan
	err        error
}

// NewTemplate prepares a template for service (the roles are
// <service>_owner, <service>_runtime and <service>_app) from migrations; the
// database is created on first use.
func NewTemplate(service string, migrations fs.FS) *Template {
	return &Template{service: service, migrations: migrations}
}

// Clone is one test's database.
type Clone struct {
	Pool     *pgxpool.Pool // as the service's app login (its runtime role)
	Name     string        // the database's name
	AppURL   string        // the app login's URL
	OwnerURL string        // the owner's URL (migrations' role)
	AdminURL string        // the test server's admin URL, on this database
}

// Pool returns a pool, as the service's app login, on a new database cloned
// from the template, dropped when the test ends.
func (tp *Template) Pool(t testing.TB) *pgxpool.Pool { return tp.Clone(t).Pool }

// Clone makes a new database from the template, dropped when the test ends.
func (tp *Template) Clone(t testing.TB) *Clone {
	t.Helper()
	admin := AdminURL(t)
	ctx := context.Background()
	tp.once.Do(func() { tp.err = tp.create(ctx, admin) })
	if tp.err != nil {
		t.Fatalf("pgtest: template: %v", tp.err)
	}
	name := "test_" + randomHex()
	db, owner, app := ident(name), ident(tp.plan.Owner), ident(tp.plan.App)
	for _, s := range []string{
		"CREATE DATABASE " + db + " TEMPLATE " + ident(tp.plan.Database) + " OWNER " + owner,
		"REVOKE ALL ON DATABASE " + db + " FROM PUBLIC",
		"GRANT CONNECT ON DATABASE " + db + " TO " + app,
	} {
		if err := exec(ctx, admin, s); err != nil {
			t.Fatalf("pgtest: clone template: %v", err)
		}
	}
	c := &Clone{
		Name:     name,
		AppURL:   login(admin, name, tp.plan.App, tp.plan.AppPassword),
		OwnerURL: login(admin, name, tp.plan.Owner, tp.plan.OwnerPassword),
		AdminURL: withDatabase(admin, name),
	}
	var err error
	if c.Pool, err = pgxpool.New(ctx, c.AppURL); err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	t.Cleanup(func() {
		c.Pool.Close()
		_ = exec(context.Background(), admin, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", db))
	})
	return c
}

// AdminURL is the test server's admin URL: PMS_TEST_DATABASE_URL, or the
// package's PostgreSQL container, started on first use. The test fails
// when there is neither.
func AdminURL(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skipf("store test skipped under -short: it needs PostgreSQL (%s, or Docker or podman for a container); make test runs it", EnvURL)
	}
	if admin := os.Getenv(EnvURL); admin != "" {
		return admin
	}
	admin, err := containerURL()
	if err != nil {
		t.Fatalf("store tests need PostgreSQL: %s is not set and no container could be started (%v); run `make test`, point %s at a server where the user may create roles and databases, or start Docker or podman", EnvURL, err, EnvURL)
	}
	return admin
}

// passwords are each service's role passwords in this test binary: the
// roles are the server's, so every template of one service (the package's,
// and any a test makes from other migrations) provisions them alike, and
// none changes a password another's clones log in with.
var passwords sync.Map // service → [2]string{owner, app}

func (tp *Template) create(ctx context.Context, admin string) error {
	pw, _ := passwords.LoadOrStore(tp.service, [2]string{randomHex(), randomHex()})
	tp.plan = pgdb.Plan{
		Database:      "tmpl_" + randomHex(),
		Roles:         pgdb.RolesFor(tp.service),
		OwnerPassword: pw.([2]string)[0],
		AppPassword:   pw.([2]string)[1],
	}
	if err := pgdb.Provision(ctx, admin, tp.plan); err != nil {
		return err
	}
	log := slog.New(slog.DiscardHandler)
	pool, err := pgdb.Open(ctx, log, login(admin, tp.plan.Database, tp.plan.Owner, tp.plan.OwnerPassword), 5*time.Second)
	if err != nil {
		return err
	}
	defer pool.Close()
	return pgdb.Migrate(ctx, log, pool, tp.migrations)
}

// login is admin's URL (PMS_TEST_DATABASE_URL, a postgres:// URL) with
// another database, user and password.
func login(admin, db, user, password string) string {
	u, _ := pgdb.LoginURL(admin, db, user, password)
	return u
}

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

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
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
