package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// PgBackRestEnv is what pgBackRest reads instead of a configuration file
// (every option has a PGBACKREST_ variable): the stanza, the encrypted
// repository with its retention, and the cluster it backs up. A server
// given the same environment archives with `pgbackrest archive-push %p`
// and no flags. docs/runbooks/restore.md sets the same options.
func PgBackRestEnv(repo, cipherPass, data, socketDir string, port int) []string {
	return []string{
		"PGBACKREST_STANZA=pms",
		"PGBACKREST_REPO1_PATH=" + repo,
		"PGBACKREST_REPO1_CIPHER_TYPE=aes-256-cbc",
		"PGBACKREST_REPO1_CIPHER_PASS=" + cipherPass,
		"PGBACKREST_REPO1_RETENTION_FULL=2",
		"PGBACKREST_PG1_PATH=" + data,
		"PGBACKREST_PG1_PORT=" + strconv.Itoa(port),
		"PGBACKREST_PG1_SOCKET_PATH=" + socketDir,
		"PGBACKREST_LOG_PATH=" + socketDir,
		"PGBACKREST_LOCK_PATH=" + socketDir,
		"PGBACKREST_LOG_LEVEL_CONSOLE=warn",
		"PGBACKREST_START_FAST=y",
	}
}

// backups is a cluster's pgBackRest repository (Options.Backups).
type backups struct {
	repo, cipherPass string
	password         string // the superuser's, for pgBackRest's connections
	ports            *PortPicker
}

// archiveSettings go into a cluster's postgresql.conf when it keeps
// backups: archive_mode needs a restart to change, the command only a
// reload, so the server archives nothing ('true') until a backup asks.
const archiveSettings = "\narchive_mode = on\narchive_command = 'true'\narchive_timeout = 60\n"

// archiveCommand archives a WAL segment to the repository.
const archiveCommand = "pgbackrest archive-push %p"

// setUpBackups prepares a repository beside the cluster in dir and the
// server's settings and environment for it.
func (pg *Postgres) setUpBackups(data, password string, ports *PortPicker) error {
	cred, err := PostgresCredential()
	if err != nil {
		return err
	}
	if _, err := exec.LookPath("pgbackrest"); err != nil {
		return fmt.Errorf("postgres: backups need pgBackRest (Debian package pgbackrest): %w", err)
	}
	b := &backups{repo: filepath.Join(pg.dir, "backups"), cipherPass: RandomHex(24), password: password, ports: ports}
	if err := mkdirOwned(b.repo, cred); err != nil {
		return err
	}
	conf, err := os.OpenFile(filepath.Join(data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer conf.Close()
	if _, err := conf.WriteString(archiveSettings); err != nil {
		return err
	}
	pg.backups = b
	return nil
}

// env is pgBackRest's environment for a cluster in dir.
func (b *backups) env(dir string, port int) []string {
	return PgBackRestEnv(b.repo, b.cipherPass, filepath.Join(dir, "data"), dir, port)
}

// pgbackrest runs pgBackRest as the server's user.
func (b *backups) pgbackrest(ctx context.Context, env []string, args ...string) error {
	cmd := exec.CommandContext(ctx, "pgbackrest", args...)
	cmd.Env = append(append(os.Environ(), env...), "PGPASSWORD="+b.password)
	cred, err := PostgresCredential()
	if err != nil {
		return err
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pgbackrest %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// Backup takes a full backup of the cluster with pgBackRest, as the
// restore runbook's operator does, and returns how long pgBackRest took.
// The server archives its WAL while the backup runs (the backup needs the
// WAL written during it) and archives nothing again after.
func (pg *Postgres) Backup(ctx context.Context) (time.Duration, error) {
	if pg.backups == nil {
		return 0, errors.New("postgres: started without backups")
	}
	if err := pg.setArchiveCommand(ctx, archiveCommand); err != nil {
		return 0, err
	}
	start := time.Now()
	err := pg.backups.pgbackrest(ctx, pg.backups.env(pg.dir, pg.Port), "--type=full", "backup")
	took := time.Since(start)
	if rerr := pg.setArchiveCommand(ctx, "true"); err == nil {
		err = rerr
	}
	return took, err
}

func (pg *Postgres) setArchiveCommand(ctx context.Context, command string) error {
	conn, err := pgx.Connect(ctx, pg.URL)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "ALTER SYSTEM SET archive_command = '"+strings.ReplaceAll(command, "'", "''")+"'"); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return nil
}

// RestoreLatest restores the newest backup into a new cluster beside this
// one and starts it, replaying the WAL to the end of the backup, until it
// accepts connections out of recovery; then stops and removes it. It
// returns how long the restore and the start took, and the restored
// cluster's rows in table of database db (to show it is whole).
func (pg *Postgres) RestoreLatest(ctx context.Context, db, table string) (time.Duration, int64, error) {
	if pg.backups == nil {
		return 0, 0, errors.New("postgres: started without backups")
	}
	cred, err := PostgresCredential()
	if err != nil {
		return 0, 0, err
	}
	dir, err := clusterDir(filepath.Dir(pg.dir), cred)
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)
	data := filepath.Join(dir, "data")
	if err := mkdirOwned(data, cred); err != nil {
		return 0, 0, err
	}
	port, err := pg.backups.ports.free()
	if err != nil {
		return 0, 0, err
	}
	env := pg.backups.env(dir, port)
	start := time.Now()
	if err := pg.backups.pgbackrest(ctx, env, "--type=immediate", "--target-action=promote", "restore"); err != nil {
		return 0, 0, err
	}
	// The copy archives nothing: its WAL must not join the original's.
	p, err := startProc(procSpec{
		name: "postgres-restored", dir: dir,
		argv: append([]string{"postgres", "-D", data, "-p", strconv.Itoa(port), "-k", dir,
			"-c", "listen_addresses=127.0.0.1", "-c", maxConnections, "-c", "archive_mode=off"}, registrySettings()...),
		env: append(os.Environ(), env...), logFile: filepath.Join(dir, "postgres.log"), out: pg.spec.out,
		stopSig: syscall.SIGINT, cred: cred,
	})
	if err != nil {
		return 0, 0, fmt.Errorf("postgres: the restored cluster: %w", err)
	}
	defer p.stop(15 * time.Second)
	u := strings.Replace(pg.URL, ":"+strconv.Itoa(pg.Port)+"/postgres", ":"+strconv.Itoa(port)+"/"+db, 1)
	for {
		if p.exited() {
			return 0, 0, fmt.Errorf("postgres: the restored cluster: %w", p.crashReport())
		}
		var rows int64
		if conn, err := pgx.Connect(ctx, u); err == nil {
			var inRecovery bool
			err = conn.QueryRow(ctx, `SELECT pg_is_in_recovery()`).Scan(&inRecovery)
			if err == nil && !inRecovery {
				took := time.Since(start)
				err = conn.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{table}.Sanitize()).Scan(&rows)
				conn.Close(ctx)
				return took, rows, err
			}
			conn.Close(ctx)
		}
		if ctx.Err() != nil {
			return 0, 0, ctx.Err()
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// mkdirOwned makes dir, private to the server's user.
func mkdirOwned(dir string, cred *syscall.Credential) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if cred != nil {
		return os.Chown(dir, int(cred.Uid), int(cred.Gid))
	}
	return nil
}
