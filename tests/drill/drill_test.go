// Package drill is the point-in-time restore drill (docs/runbooks/restore.md):
// the whole system runs on a PostgreSQL cluster that archives its WAL to an
// encrypted pgBackRest repository; patients, reads (audit rows) and ledger
// postings are written through the gateway around a base backup; a table
// is dropped; the cluster is restored to a time T before the drop into a
// fresh directory, and the system is started on it. It runs in
// `make test-drill` (part of `make test`), on its own: it starts two
// systems on the fixed local ports.
package drill

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/tools/pmsrun/runner"
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() || os.Getenv("PMS_DRILL") == "" {
		fmt.Println("drill: skipped: it runs on its own in `make test-drill` (part of `make test`), which sets PMS_DRILL=1")
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// databases are the apps' databases the drill compares.
var databases = []string{"auth", "patient", "billing", "analytics"}

func TestPointInTimeRestore(t *testing.T) {
	ctx := context.Background()
	root := repoRoot(t)
	// The servers run as the postgres user, who may not be able to reach
	// the checkout (root's home directory is mode 700), so their files go
	// under the system's temporary directory.
	work, err := os.MkdirTemp("", "pms-drill-")
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() { // a failed drill's clusters, repository and logs stay for a look
			t.Logf("the drill's servers, repository and logs are kept in %s", work)
			return
		}
		os.RemoveAll(work)
	})
	require.NoError(t, os.Chmod(work, 0o755))
	console, err := os.Create(filepath.Join(work, "console.log"))
	require.NoError(t, err)
	defer console.Close()

	repo := filepath.Join(work, "repo")
	cipherPass := runner.RandomHex(24)
	password := runner.RandomHex(16)
	// The bootstrap admin keeps one password across both systems: the
	// restored database holds the hash the first one set.
	t.Setenv("AUTH_BOOTSTRAP_ADMIN_PASSWORD", runner.RandomHex(12))

	orig, err := newServer(filepath.Join(work, "original"), freePort(t), password, repo, cipherPass)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(repo, 0o700))
	if cred, _ := credential(); cred != nil {
		require.NoError(t, os.Chown(repo, int(cred.Uid), int(cred.Gid)))
	}
	require.NoError(t, orig.initdb(ctx))
	require.NoError(t, orig.start(ctx))
	defer orig.stop()
	run(t, orig, "pgbackrest", "stanza-create")

	sys1, err := runner.Start(ctx, runner.Options{Template: root, PostgresURL: orig.url("postgres"),
		DataDir: filepath.Join(work, "run-original"), Console: console})
	require.NoError(t, err, "the system did not start on the archiving cluster (console: %s)", console.Name())
	defer sys1.Stop()
	w := newWriter(t, sys1.AdminEmail, os.Getenv("AUTH_BOOTSTRAP_ADMIN_PASSWORD"))

	// Before the base backup, between it and T, and after T.
	w.batch(t, "before-backup", 8)
	run(t, orig, "pgbackrest", "--type=full", "backup")
	// A restore picks the newest backup that stopped before its target;
	// the stop time has whole seconds.
	time.Sleep(1100 * time.Millisecond)
	w.batch(t, "after-backup", 8)
	atT, target := snapshotAtT(t, ctx, orig)
	t.Logf("T = %s: %d rows in %d tables", target, rowCount(atT), len(atT))
	kept, balanceAtT := slices.Clone(w.patients), maps.Clone(w.balance)
	w.batch(t, "after-T", 4)
	lost := w.patients[len(kept):]

	// The operator's worst day: a table dropped.
	mustExec(t, ctx, orig, "patient", `DROP TABLE patients CASCADE`)
	archiveNow(t, ctx, orig)

	// Then WAL archiving is turned off (archive_command empty: PostgreSQL
	// keeps its WAL and archives nothing), and ledger postings go on.
	mustExec(t, ctx, orig, "postgres", `ALTER SYSTEM SET archive_command = ''`)
	mustExec(t, ctx, orig, "postgres", `SELECT pg_reload_conf()`)
	w.postings(t, kept, "unarchived")
	_, unarchived := snapshotAtT(t, ctx, orig)
	w.postings(t, kept, "after-T2")
	sys1.Stop()
	orig.stop()

	t.Run("without WAL archiving the restore cannot reach its target", func(t *testing.T) {
		s, err := newServer(filepath.Join(work, "restored-unarchived"), freePort(t), password, repo, cipherPass)
		require.NoError(t, err)
		defer s.stop()
		err = restoreTo(ctx, s, unarchived)
		require.Error(t, err, "a restore to a time whose WAL was never archived must fail")
		assert.Contains(t, err.Error(), "recovery ended before configured recovery target was reached")
		t.Logf("as expected: %v", firstLine(err))
	})

	// Restore to T into a fresh cluster, compare, start the system on it.
	s, err := newServer(filepath.Join(work, "restored"), freePort(t), password, repo, cipherPass)
	require.NoError(t, err)
	defer s.stop()
	began := time.Now()
	require.NoError(t, restoreTo(ctx, s, target))
	restored := time.Since(began)
	got := snapshot(t, ctx, s)
	for _, table := range sortedKeys(atT) {
		assert.Equal(t, atT[table], got[table], "%s differs from its rows at T", table)
	}
	assert.ElementsMatch(t, sortedKeys(atT), sortedKeys(got), "the restored cluster has other tables than at T")

	sys2, err := runner.Start(ctx, runner.Options{Template: root, PostgresURL: s.url("postgres"),
		DataDir: filepath.Join(work, "run-restored"), Console: console})
	require.NoError(t, err, "the system did not start on the restored cluster (console: %s)", console.Name())
	defer sys2.Stop()
	serving := time.Since(began)
	size := databaseSize(t, ctx, s)
	t.Logf("recovery time: %s to restore and replay to T, %s until the system served (%d MB of databases, %d rows compared)",
		restored.Round(100*time.Millisecond), serving.Round(100*time.Millisecond), size>>20, rowCount(atT))

	// The system serves what was written before T, and nothing after.
	token, err := login(sys2.AdminEmail, os.Getenv("AUTH_BOOTSTRAP_ADMIN_PASSWORD"))
	require.NoError(t, err)
	for _, p := range kept {
		var got patient
		_, err := call(token, http.MethodGet, "/patients/"+p.ID, nil, &got)
		require.NoError(t, err)
		assert.Equal(t, p.Name, got.Name)
		var acct account
		_, err = call(token, http.MethodGet, "/billing/accounts/"+p.BillingAccountID, nil, &acct)
		require.NoError(t, err)
		assert.Equal(t, balanceAtT[p.BillingAccountID], acct.BalanceMinor, "balance of %s at T", p.BillingAccountID)
	}
	for _, p := range lost {
		status, err := call(token, http.MethodGet, "/patients/"+p.ID, nil, nil)
		require.NoError(t, err)
		assert.Equal(t, http.StatusNotFound, status, "patient %s was registered after T", p.ID)
	}
	// The audit trail is intact (compared above), grows with the reads just
	// made, and is still append-only, even for the superuser.
	var reads int
	require.NoError(t, queryRow(ctx, s, "patient", `SELECT count(*) FROM audit_log`, &reads))
	assert.Greater(t, reads, len(atT["patient.audit_log"]))
	for _, c := range []struct{ db, stmt string }{
		{"patient", `UPDATE audit_log SET action = action`},
		{"patient", `DELETE FROM audit_log`},
		{"billing", `UPDATE ledger_entries SET amount_minor = 0`},
		{"billing", `DELETE FROM billing_audit`},
	} {
		err := execErr(ctx, s, c.db, c.stmt)
		require.Error(t, err, "%s on %s must be refused", c.stmt, c.db)
		assert.Contains(t, err.Error(), "append-only", c.stmt)
	}
}

// writer writes through the gateway as the admin and remembers what it
// wrote.
type writer struct {
	token    string
	patients []patient
	balance  map[string]int64
	n        int
}

func newWriter(t *testing.T, email, password string) *writer {
	token, err := login(email, password)
	require.NoError(t, err)
	return &writer{token: token, balance: map[string]int64{}}
}

// batch registers n patients, reads each (an audit row) and posts a
// charge to each one's account.
func (w *writer) batch(t *testing.T, label string, n int) {
	t.Helper()
	var fresh []patient
	for i := 0; i < n; i++ {
		w.n++
		var p patient
		_, err := call(w.token, http.MethodPost, "/patients", map[string]string{
			"name":        fmt.Sprintf("Drill %s %d", label, i),
			"email":       fmt.Sprintf("drill.%s.%d.%d@example.com", label, w.n, time.Now().UnixNano()),
			"address":     "1 Restore Street, Springfield",
			"dateOfBirth": "1970-01-01",
		}, &p)
		require.NoError(t, err)
		require.NotEmpty(t, p.BillingAccountID)
		_, err = call(w.token, http.MethodGet, "/patients/"+p.ID, nil, &patient{})
		require.NoError(t, err)
		fresh = append(fresh, p)
	}
	w.patients = append(w.patients, fresh...)
	w.postings(t, fresh, label)
}

// postings posts one charge to each patient's account.
func (w *writer) postings(t *testing.T, ps []patient, label string) {
	t.Helper()
	for i, p := range ps {
		amount := int64(1000 + 10*w.n + i)
		var entry struct{}
		_, err := call(w.token, http.MethodPost, "/billing/accounts/"+p.BillingAccountID+"/charges", map[string]any{
			"serviceDate": time.Now().UTC().Format(time.DateOnly), "code": "99213",
			"description": "Office visit", "quantity": 1, "unitPriceMinor": amount,
		}, &entry, "Idempotency-Key", fmt.Sprintf("drill-%s-%d-%s", label, i, p.ID))
		require.NoError(t, err)
		w.balance[p.BillingAccountID] += amount
	}
}

// snapshotAtT waits for the system to settle (the outbox relays, the
// consumers), then takes every row of every app table and the time T
// between two equal snapshots: nothing committed just before or after T
// is missed.
func snapshotAtT(t *testing.T, ctx context.Context, s *server) (map[string][]string, string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		before := snapshot(t, ctx, s)
		var at time.Time
		require.NoError(t, queryRow(ctx, s, "postgres", `SELECT clock_timestamp()`, &at))
		after := snapshot(t, ctx, s)
		if equalSnapshots(before, after) {
			time.Sleep(50 * time.Millisecond) // T strictly before what follows
			return before, at.UTC().Format("2006-01-02 15:04:05.999999+00")
		}
		require.True(t, time.Now().Before(deadline), "the system did not settle for a snapshot")
		time.Sleep(500 * time.Millisecond)
	}
}

// snapshot is every row of every table of the apps' databases, as text,
// sorted, keyed by database.table.
func snapshot(t *testing.T, ctx context.Context, s *server) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, db := range databases {
		conn, err := s.connect(ctx, db)
		require.NoError(t, err)
		tables, err := columnOf(ctx, conn, `SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`)
		require.NoError(t, err)
		for _, table := range tables {
			rows, err := columnOf(ctx, conn, `SELECT t::text FROM `+table+` t ORDER BY 1`)
			require.NoError(t, err)
			out[db+"."+table] = rows
		}
		conn.Close(ctx)
	}
	return out
}

func columnOf(ctx context.Context, conn *pgx.Conn, query string) ([]string, error) {
	rows, err := conn.Query(ctx, query)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func equalSnapshots(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

func rowCount(s map[string][]string) (n int) {
	for _, v := range s {
		n += len(v)
	}
	return n
}

func sortedKeys(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// archiveNow closes the current WAL segment and waits until the archiver
// has pushed it to the repository.
func archiveNow(t *testing.T, ctx context.Context, s *server) {
	t.Helper()
	var segment string
	require.NoError(t, queryRow(ctx, s, "postgres", `SELECT pg_walfile_name(pg_switch_wal())`, &segment))
	deadline := time.Now().Add(time.Minute)
	for {
		var last string
		require.NoError(t, queryRow(ctx, s, "postgres", `SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver`, &last))
		if last >= segment {
			return
		}
		require.True(t, time.Now().Before(deadline), "WAL segment %s not archived within a minute (last %q)", segment, last)
		time.Sleep(200 * time.Millisecond)
	}
}

// restoreTo restores the latest backup into s's empty data directory and
// replays the archived WAL up to target, then starts the server there
// (it promotes at the target). The commands are the runbook's.
func restoreTo(ctx context.Context, s *server, target string) error {
	if err := os.MkdirAll(s.data, 0o700); err != nil {
		return err
	}
	if cred, _ := credential(); cred != nil {
		if err := os.Chown(s.data, int(cred.Uid), int(cred.Gid)); err != nil {
			return err
		}
	}
	if _, err := s.command(ctx, "pgbackrest", "--type=time", "--target="+target, "--target-action=promote", "restore"); err != nil {
		return err
	}
	return s.start(ctx)
}

func run(t *testing.T, s *server, name string, args ...string) {
	t.Helper()
	_, err := s.command(context.Background(), name, args...)
	require.NoError(t, err)
}

func mustExec(t *testing.T, ctx context.Context, s *server, db, stmt string) {
	t.Helper()
	require.NoError(t, execErr(ctx, s, db, stmt))
}

func execErr(ctx context.Context, s *server, db, stmt string) error {
	conn, err := s.connect(ctx, db)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, stmt)
	return err
}

func queryRow(ctx context.Context, s *server, db, query string, dest ...any) error {
	conn, err := s.connect(ctx, db)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return conn.QueryRow(ctx, query).Scan(dest...)
}

func databaseSize(t *testing.T, ctx context.Context, s *server) int64 {
	var n int64
	conn, err := s.connect(ctx, "postgres")
	require.NoError(t, err)
	defer conn.Close(ctx)
	require.NoError(t, conn.QueryRow(ctx,
		`SELECT sum(pg_database_size(datname))::bigint FROM pg_database WHERE datname = ANY($1)`, databases).Scan(&n))
	return n
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func firstLine(err error) string {
	s := err.Error()
	if i := strings.Index(s, "\n"); i > 0 {
		return s[:i]
	}
	return s
}

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "dapr.yaml")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal(errors.New("dapr.yaml not found above the test directory"))
		}
		dir = parent
	}
}
