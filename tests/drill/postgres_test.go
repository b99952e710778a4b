package drill

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pms-dapr/pms/tools/pmsrun/runner"
)

// server is one PostgreSQL cluster of the drill: the original, or one
// restored from the repository. It runs as the postgres user when the test
// runs as root (PostgreSQL refuses root), with crash safety on.
type server struct {
	dir, data string
	port      int
	password  string
	env       []string
	cmd       *exec.Cmd
	exited    chan struct{}
	logPath   string
}

// credential is nil unless the test runs as root.
func credential() (*syscall.Credential, error) { return runner.PostgresCredential() }

// command runs name as the server's user with the drill's pgBackRest
// environment, returning its combined output.
func (s *server) command(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), s.env...)
	cred, err := credential()
	if err != nil {
		return "", err
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// newServer prepares dir (owned by the server's user) for a cluster.
func newServer(dir string, port int, password, repo, cipherPass string) (*server, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}
	s := &server{dir: dir, data: filepath.Join(dir, "data"), port: port, password: password,
		logPath: filepath.Join(dir, "postgres.log")}
	s.env = runner.PgBackRestEnv(repo, cipherPass, s.data, dir, port)
	return s, nil
}

// initdb creates the cluster: password logins over TCP, trust only on the
// socket in the server's private directory (pgBackRest's way in).
func (s *server) initdb(ctx context.Context) error {
	pwfile := filepath.Join(s.dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(s.password+"\n"), 0o600); err != nil {
		return err
	}
	if cred, _ := credential(); cred != nil {
		_ = os.Chown(pwfile, int(cred.Uid), int(cred.Gid))
	}
	defer os.Remove(pwfile)
	if _, err := s.command(ctx, "initdb", "-D", s.data, "-U", "postgres", "--pwfile", pwfile,
		"--auth-host", "scram-sha-256", "--auth-local", "trust", "-E", "UTF8", "--locale", "C"); err != nil {
		return err
	}
	// WAL archiving lives in the configuration (not on the command line),
	// so ALTER SYSTEM can turn it off, and a restored cluster has it.
	conf, err := os.OpenFile(filepath.Join(s.data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer conf.Close()
	_, err = conf.WriteString("\narchive_mode = on\narchive_command = 'pgbackrest archive-push %p'\narchive_timeout = 60\n")
	return err
}

// start runs the server (which archives its WAL to the repository through
// pgBackRest's archive-push, as initdb configured it) and waits
// until it accepts connections, or until it exits (a restore whose target
// cannot be reached ends that way).
func (s *server) start(ctx context.Context) error {
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command("postgres", "-D", s.data, "-p", strconv.Itoa(s.port), "-k", s.dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200")
	cmd.Env = append(os.Environ(), s.env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cred, err := credential()
	if err != nil {
		return err
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	s.cmd, s.exited = cmd, make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(s.exited) }()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		select {
		case <-s.exited:
			return fmt.Errorf("postgres exited during start-up; its log ends:\n%s", s.logTail(15))
		default:
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgx.Connect(cctx, s.url("postgres"))
		cancel()
		if err == nil {
			var inRecovery bool
			qerr := conn.QueryRow(ctx, `SELECT pg_is_in_recovery()`).Scan(&inRecovery)
			conn.Close(ctx)
			if qerr == nil && !inRecovery {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres not ready after 2m: %v; its log ends:\n%s", err, s.logTail(15))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (s *server) logTail(n int) string {
	raw, _ := os.ReadFile(s.logPath)
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// stop shuts the server down (fast: clients are disconnected).
func (s *server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.exited
	}
}

// url is the superuser's URL for database db.
func (s *server) url(db string) string {
	return fmt.Sprintf("postgres://postgres:%s@127.0.0.1:%d/%s?sslmode=disable", s.password, s.port, db)
}

func (s *server) connect(ctx context.Context, db string) (*pgx.Conn, error) {
	return pgx.Connect(ctx, s.url(db))
}
