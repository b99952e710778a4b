package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Postgres is a throwaway PostgreSQL cluster: created fresh with initdb,
// listening on loopback only, with a password generated for this run, and
// deleted when stopped. PostgreSQL refuses to run as root, so when the
// runner is root the server runs as the "postgres" user.
type Postgres struct {
	// URL is the admin connection URL (database "postgres").
	URL  string
	Port int

	dir     string
	spec    procSpec // how the server was started, for Restart
	proc    *proc
	backups *backups // nil unless started with backups
}

// StartPostgres initialises and starts a cluster under baseDir, on 5432 when
// free or else any free port. Console output goes to out. Unless durable,
// it trades crash safety for speed (fsync, synchronous commit and full page
// writes off), as a throwaway test cluster may. With backups, the cluster
// has a pgBackRest repository beside it (Backup, RestoreLatest).
func StartPostgres(ctx context.Context, baseDir string, ports *PortPicker, durable, backups bool, out io.Writer) (*Postgres, error) {
	if _, err := exec.LookPath("initdb"); err != nil {
		return nil, fmt.Errorf("postgres: initdb not on PATH (install PostgreSQL server binaries, or set PMS_POSTGRES_URL to use a running server): %w", err)
	}
	cred, err := PostgresCredential()
	if err != nil {
		return nil, err
	}
	dir, err := clusterDir(baseDir, cred)
	if err != nil {
		return nil, err
	}
	pg := &Postgres{dir: dir}
	ok := false
	defer func() {
		if !ok {
			pg.Stop()
		}
	}()
	password := RandomHex(16)
	pwfile := filepath.Join(dir, "pwfile")
	if err := writeOwned(pwfile, password+"\n", cred); err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	initdb := exec.CommandContext(ctx, "initdb", "-D", data, "-U", "postgres", "--pwfile", pwfile,
		"--auth", "scram-sha-256", "-E", "UTF8", "--locale", "C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if outb, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("postgres: initdb: %w\n%s", err, outb)
	}
	os.Remove(pwfile)

	if pg.Port, err = ports.want(5432, true); err != nil {
		return nil, err
	}
	env := os.Environ()
	if backups {
		if err := pg.setUpBackups(data, password, ports); err != nil {
			return nil, err
		}
		env = append(env, pg.backups.env(dir, pg.Port)...)
	}
	pg.spec = procSpec{
		name: "postgres",
		dir:  dir,
		argv: append([]string{"postgres", "-D", data, "-p", strconv.Itoa(pg.Port), "-k", dir,
			"-c", "listen_addresses=127.0.0.1", "-c", maxConnections}, append(registrySettings(), unsafeSettings(durable)...)...),
		env:     env,
		logFile: filepath.Join(dir, "postgres.log"),
		out:     out,
		stopSig: syscall.SIGINT, // fast shutdown: disconnect clients, then stop
		cred:    cred,
	}
	if pg.proc, err = startProc(pg.spec); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	pg.URL = fmt.Sprintf("postgres://postgres:%s@127.0.0.1:%d/postgres?sslmode=disable", password, pg.Port)
	if err := pg.waitReady(ctx, 30*time.Second); err != nil {
		return nil, err
	}
	if backups {
		if err := pg.backups.pgbackrest(ctx, pg.backups.env(dir, pg.Port), "stanza-create"); err != nil {
			return nil, fmt.Errorf("postgres: %w", err)
		}
	}
	ok = true
	return pg, nil
}

// maxConnections is the clusters' setting; a restored copy needs at least
// its original's to replay the original's WAL.
const maxConnections = "max_connections=200"

// registrySettings size the cluster for a registry of a million patients
// and its bulk imports, as docs/operations/postgres-settings.md explains
// and measures: with 128 MB of shared buffers a million patients' indexes
// are read through the kernel's cache, at 60% of the searches and reads
// a second; with a max_wal_size of 1 GB an import checkpoints every 15
// seconds, and every checkpoint makes the next change of each page write
// the whole page to the WAL again. The restored copy of a backup starts
// with the same.
func registrySettings() []string {
	return []string{"-c", "shared_buffers=1GB", "-c", "max_wal_size=8GB", "-c", "checkpoint_timeout=15min",
		"-c", "wal_compression=lz4"}
}

func unsafeSettings(durable bool) []string {
	if durable {
		return nil
	}
	return []string{"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"}
}

func (pg *Postgres) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		if pg.proc.exited() {
			return fmt.Errorf("postgres: %w", pg.proc.crashReport())
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgx.Connect(cctx, pg.URL)
		cancel()
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("postgres: not ready after %s: %w", limit, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Restart stops the server (fast shutdown: every connection is cut) and
// starts it again on the same data and port, as an operator's restart or a
// failover would, returning once it accepts connections.
func (pg *Postgres) Restart(ctx context.Context) error {
	pg.proc.stop(15 * time.Second)
	p, err := startProc(pg.spec)
	if err != nil {
		return fmt.Errorf("postgres: restart: %w", err)
	}
	pg.proc = p
	return pg.waitReady(ctx, 30*time.Second)
}

// Stop shuts the server down and deletes the cluster.
func (pg *Postgres) Stop() {
	if pg.proc != nil {
		pg.proc.stop(15 * time.Second)
	}
	if pg.dir != "" {
		os.RemoveAll(pg.dir)
	}
}

// PID is the postmaster's process id, or 0.
func (pg *Postgres) PID() int {
	if pg.proc == nil {
		return 0
	}
	return pg.proc.pid()
}

// databaseName is the database an app's DATABASE_URL names.
func databaseName(dbURL string) (string, error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return "", err
	}
	name := strings.TrimPrefix(u.Path, "/")
	if name == "" {
		return "", errors.New("no database name in DATABASE_URL")
	}
	return name, nil
}

// PostgresCredential is nil when the caller may run PostgreSQL itself, and
// the postgres user's ids when it is root (PostgreSQL refuses to run as
// root).
func PostgresCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("postgres: running as root needs a 'postgres' user to run the server as: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// clusterDir makes a fresh directory for one cluster under baseDir, owned by
// the server's user. If that user cannot reach baseDir (a private home
// directory), the system temp directory is used instead.
func clusterDir(baseDir string, cred *syscall.Credential) (string, error) {
	baseDir, err := filepath.Abs(baseDir)
	if err != nil {
		return "", fmt.Errorf("postgres: %w", err)
	}
	if cred != nil && !othersCanTraverse(baseDir) {
		baseDir = os.TempDir()
	}
	if err := os.MkdirAll(baseDir, 0o755); err != nil {
		return "", fmt.Errorf("postgres: %w", err)
	}
	dir, err := os.MkdirTemp(baseDir, "postgres-")
	if err != nil {
		return "", fmt.Errorf("postgres: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return "", err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return "", fmt.Errorf("postgres: chown %s: %w", dir, err)
		}
	}
	return dir, nil
}

// othersCanTraverse reports whether every existing directory from / down to
// dir is searchable by other users.
func othersCanTraverse(dir string) bool {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	for p := abs; ; p = filepath.Dir(p) {
		if st, err := os.Stat(p); err == nil && st.Mode().Perm()&0o001 == 0 {
			return false
		}
		if p == filepath.Dir(p) {
			return true
		}
	}
}

func writeOwned(path, content string, cred *syscall.Credential) error {
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		return err
	}
	if cred != nil {
		return os.Chown(path, int(cred.Uid), int(cred.Gid))
	}
	return nil
}

// RandomHex is n random bytes in hex: passwords and tokens that go into URLs.
func RandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
