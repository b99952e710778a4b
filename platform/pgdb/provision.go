package pgdb

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Roles names the PostgreSQL roles of one service's database.
//
//   - Owner owns the database, its schema and every object in it, and is the
//     only role that runs migrations.
//   - Runtime is a NOLOGIN group: the service's migrations grant it exactly
//     the DML the service needs (an audit table gets INSERT and SELECT only).
//   - App is the login the running service uses: a member of Runtime and
//     nothing else, with CONNECT on this one database.
type Roles struct {
	Owner, Runtime, App string
}

// RolesFor gives the conventional roles of the service database db:
// db_owner, db_runtime (the name its migrations grant to) and db_app.
func RolesFor(db string) Roles {
	return Roles{Owner: db + "_owner", Runtime: db + "_runtime", App: db + "_app"}
}

// Plan is one service database to provision.
type Plan struct {
	Database string
	Roles
	OwnerPassword, AppPassword string
}

// Provision creates, or brings into line, a service's database and roles on
// the server behind adminURL (a role that may create roles and databases):
// the owner and app logins with the given passwords and no special
// attributes, the runtime group with the app in it, the database owned by
// the owner with CONNECT for nobody but the owner and the app, and every
// object in its public schema owned by the owner (a database migrated
// before these roles existed is handed over). It can be run again at any
// time, for example to rotate the passwords.
func Provision(ctx context.Context, adminURL string, p Plan) error {
	if p.Database == "" || p.Owner == "" || p.Runtime == "" || p.App == "" {
		return errors.New("pgdb.provision: database and role names are required")
	}
	if p.OwnerPassword == "" || p.AppPassword == "" {
		return errors.New("pgdb.provision: owner and app passwords are required")
	}
	adminCfg, err := pgx.ParseConfig(adminURL)
	if err != nil {
		return fmt.Errorf("pgdb.provision: %w", err)
	}
	admin, err := connectPatiently(ctx, adminCfg)
	if err != nil {
		return fmt.Errorf("pgdb.provision: connect: %w", err)
	}
	defer admin.Close(ctx)

	const login = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT"
	for _, r := range []struct{ name, attrs, password string }{
		{p.Owner, login, p.OwnerPassword},
		{p.Runtime, "NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS", ""},
		{p.App, login, p.AppPassword},
	} {
		if err := ensureRole(ctx, admin, r.name); err != nil {
			return err
		}
		stmt := "ALTER ROLE " + ident(r.name) + " WITH " + r.attrs
		if r.password != "" {
			stmt += " PASSWORD " + literal(r.password)
		}
		if _, err := admin.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("pgdb.provision: role %s: %w", r.name, err)
		}
	}
	db := ident(p.Database)
	var exists bool
	if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, p.Database).Scan(&exists); err != nil {
		return fmt.Errorf("pgdb.provision: %w", err)
	}
	stmts := []string{
		"GRANT " + ident(p.Runtime) + " TO " + ident(p.App),
		"ALTER DATABASE " + db + " OWNER TO " + ident(p.Owner),
		"REVOKE ALL ON DATABASE " + db + " FROM PUBLIC",
		"GRANT CONNECT ON DATABASE " + db + " TO " + ident(p.App),
	}
	if !exists {
		stmts[1] = "CREATE DATABASE " + db + " OWNER " + ident(p.Owner)
	}
	for _, s := range stmts {
		if _, err := admin.Exec(ctx, s); err != nil {
			return fmt.Errorf("pgdb.provision: %s: %w", s, err)
		}
	}

	inCfg, err := pgx.ParseConfig(adminURL)
	if err != nil {
		return fmt.Errorf("pgdb.provision: %w", err)
	}
	inCfg.Database = p.Database
	inDB, err := connectPatiently(ctx, inCfg)
	if err != nil {
		return fmt.Errorf("pgdb.provision: connect to %s: %w", p.Database, err)
	}
	defer inDB.Close(ctx)
	// Nobody but the owner creates objects; everything there is the owner's.
	handOver := `
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
ALTER SCHEMA public OWNER TO ` + ident(p.Owner) + `;
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT format('ALTER %s %s OWNER TO %I',
                 CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END,
                 c.oid::regclass, ` + literal(p.Owner) + `) AS stmt
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
               AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')))
               AND pg_get_userbyid(c.relowner) <> ` + literal(p.Owner) + `
    LOOP EXECUTE r.stmt; END LOOP;
    FOR r IN SELECT format('ALTER ROUTINE %s OWNER TO %I', p.oid::regprocedure, ` + literal(p.Owner) + `) AS stmt
             FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = 'public' AND pg_get_userbyid(p.proowner) <> ` + literal(p.Owner) + `
    LOOP EXECUTE r.stmt; END LOOP;
END $$;`
	if _, err := inDB.Exec(ctx, handOver); err != nil {
		return fmt.Errorf("pgdb.provision: hand %s over to %s: %w", p.Database, p.Owner, err)
	}
	return nil
}

// ensureRole creates role name unless it exists. Two provisioners racing
// for the same role both succeed.
func ensureRole(ctx context.Context, admin *pgx.Conn, name string) error {
	var exists bool
	if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, name).Scan(&exists); err != nil {
		return fmt.Errorf("pgdb.provision: %w", err)
	}
	if exists {
		return nil
	}
	_, err := admin.Exec(ctx, "CREATE ROLE "+ident(name))
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "42710" || pgErr.Code == "23505") { // duplicate_object, unique_violation
		return nil
	}
	if err != nil {
		return fmt.Errorf("pgdb.provision: create role %s: %w", name, err)
	}
	return nil
}

// LoginURL is adminURL (a postgres:// URL) pointing at database db as
// user with password: how a provisioner hands a service its logins.
func LoginURL(adminURL, db, user, password string) (string, error) {
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", fmt.Errorf("pgdb: admin url: %w", err)
	}
	u.Path = "/" + db
	u.User = url.UserPassword(user, password)
	return u.String(), nil
}

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

// literal quotes s as an SQL string literal (utility statements such as
// ALTER ROLE take no parameters).
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// provisionConnectWait bounds how long Provision retries a connection that
// failed before the server answered (a name not resolving yet, a refused
// connection: a container network still starting); a server's own refusal
// (a wrong password, say) is final at once. A minute, as the migrate
// step's own wait for the server: a container network's DNS has been seen
// failing lookups for over 40 s on a loaded machine.
const provisionConnectWait = time.Minute

// connectPatiently connects with cfg, retrying for provisionConnectWait
// while the server cannot be reached.
func connectPatiently(ctx context.Context, cfg *pgx.ConnConfig) (*pgx.Conn, error) {
	deadline := time.Now().Add(provisionConnectWait)
	for {
		conn, err := pgx.ConnectConfig(ctx, cfg)
		var pgErr *pgconn.PgError
		if err == nil || errors.As(err, &pgErr) || time.Now().After(deadline) {
			return conn, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(time.Second):
		}
	}
}
