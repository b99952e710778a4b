package patientdb_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/pms-dapr/pms/apps/patient-service/internal/patient"
	"github.com/pms-dapr/pms/apps/patient-service/internal/patient/patienttest"
	"github.com/pms-dapr/pms/apps/patient-service/internal/patientdb"
	"github.com/pms-dapr/pms/platform/outbox"
	"github.com/pms-dapr/pms/platform/pgdb"
	"github.com/pms-dapr/pms/platform/pgtest"
	patientv1 "github.com/pms-dapr/pms/proto/patient/v1"
)

var template = pgtest.NewTemplate("patient", patientdb.Migrations())

var clock = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)

func newPatient(email string) (patient.Patient, patient.Event, patient.AuditEntry) {
	clock = clock.Add(time.Second)
	p := patient.Patient{
		ID: uuid.NewString(), Name: "Ada " + email, Email: email, Address: "x", Phone: "+44 1", Gender: "female",
		MRN:            "MRN-" + email,
		DateOfBirth:    time.Date(1985, 12, 10, 0, 0, 0, 0, time.UTC),
		RegisteredDate: time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC),
		Version:        1, CreatedAt: clock, UpdatedAt: clock,
	}
	return p, patient.Event{ID: uuid.NewString(), Type: patient.EventCreated, Patient: p, OccurredAt: clock},
		patient.AuditEntry{At: clock, UserID: "u1", Role: "clinician", Action: "create", PatientIDs: []string{p.ID}, RequestID: "r", Outcome: "success"}
}

func create(t *testing.T, store *patientdb.Store, email string) patient.Patient {
	t.Helper()
	p, ev, a := newPatient(email)
	require.NoError(t, store.Create(context.Background(), p, ev, a, nil))
	return p
}

func count(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

func TestCreateGetRoundTrip(t *testing.T) {
	pool := template.Pool(t)
	store := patientdb.New(pool)
	p := create(t, store, "ada@example.com")
	got, err := store.Get(context.Background(), p.ID)
	require.NoError(t, err)
	p.Family, p.Given = patient.NamePartsOf(p) // written with the parts taken from the name
	assert.Equal(t, p, got)
	_, err = store.Get(context.Background(), uuid.NewString())
	assert.ErrorIs(t, err, patient.ErrNotFound)
	assert.Equal(t, 1, count(t, pool, `SELECT count(*) FROM audit_log WHERE $1::uuid = ANY (patient_ids)`, p.ID))
}

func TestUniqueEmailAndMRNWriteNothing(t *testing.T) {
	pool := template.Pool(t)
	store := patientdb.New(pool)
	ctx := context.Background()
	first := create(t, store, "ada@example.com")

	dup, ev, a := newPatient("ADA@Example.com")
	assert.ErrorIs(t, store.Create(ctx, dup, ev, a, nil), patient.ErrEmailTaken)
	dup, ev, a = newPatient("other@example.com")
	dup.MRN = first.MRN
	assert.ErrorIs(t, store.Create(ctx, dup, ev, a, nil), patient.ErrMRNTaken)
	assert.Equal(t, 1, count(t, pool, `SELECT count(*) FROM patients`))
	assert.Equal(t, 1, count(t, pool, `SELECT count(*) FROM outbox`), "no event for a rejected patient")
	assert.Equal(t, 1, count(t, pool, `SELECT count(*) FROM audit_log`), "no success recorded for it either")
}

func TestIdempotencyKeyReplaysAndRejectsMisuse(t *testing.T) {
	store := patientdb.New(template.Pool(t))
	ctx := context.Background()
	key := &patient.IdempotencyKey{UserID: "u1", Key: "k", RequestHash: []byte("h1")}
	p, ev, a := newPatient("a@example.com")
	require.NoError(t, store.Create(ctx, p, ev, a, key))

	again, ev, a := newPatient("a2@example.com")
	var replay *patient.ReplayError
	require.ErrorAs(t, store.Create(ctx, again, ev, a, key), &replay)
	assert.Equal(t, p.ID, replay.PatientID)
	_, err := store.Get(ctx, again.ID)
	assert.ErrorIs(t, err, patient.ErrNotFound, "the retry created nothing")

	other := &patient.IdempotencyKey{UserID: "u1", Key: "k", RequestHash: []byte("h2")}
	third, ev, a := newPatient("a3@example.com")
	assert.ErrorIs(t, store.Create(ctx, third, ev, a, other), patient.ErrIdempotencyMismatch)
	fourth, ev, a := newPatient("a4@example.com")
	require.NoError(t, store.Create(ctx, fourth, ev, a, &patient.IdempotencyKey{UserID: "u2", Key: "k", RequestHash: []byte("h1")}),
		"keys are per user")
}

func TestUpdateAndDeleteNeedTheExpectedVersion(t *testing.T) {
	pool := template.Pool(t)
	store := patientdb.New(pool)
	ctx := context.Background()
	p := create(t, store, "a@example.com")
	audit := patient.AuditEntry{At: clock, UserID: "u1", Role: "admin", Action: "update", PatientIDs: []string{p.ID}, RequestID: "r", Outcome: "success"}

	next := p
	next.Name, next.Version, next.UpdatedAt = "Ada King", 2, clock.Add(time.Minute)
	ev := patient.Event{ID: uuid.NewString(), Type: patient.EventUpdated, Patient: next, OccurredAt: clock}
	require.NoError(t, store.Update(ctx, next, ev, audit))
	stale := next
	stale.Name = "Lost update"
	ev.ID = uuid.NewString()
	assert.ErrorIs(t, store.Update(ctx, stale, ev, audit), patient.ErrVersionMismatch, "version 2 is already taken")

	del := next
	del.Version, del.DeletedAt = 3, clock.Add(2*time.Minute)
	ev = patient.Event{ID: uuid.NewString(), Type: patient.EventDeleted, Patient: del, OccurredAt: clock}
	require.NoError(t, store.Delete(ctx, del, ev, audit))
	got, err := store.Get(ctx, p.ID)
	require.NoError(t, err)
	assert.True(t, got.Deleted())
	assert.Equal(t, "Ada King", got.Name)
	after := del
	after.Version = 4
	ev.ID = uuid.NewString()
	assert.ErrorIs(t, store.Update(ctx, after, ev, audit), patient.ErrGone)
	missing := after
	missing.ID = uuid.NewString()
	assert.ErrorIs(t, store.Update(ctx, missing, ev, audit), patient.ErrNotFound)
	assert.Equal(t, 3, count(t, pool, `SELECT count(*) FROM outbox`), "create, update, delete")
}

func TestSearchFiltersAndPagesEachRecordOnce(t *testing.T) {
	store := patientdb.New(template.Pool(t))
	ctx := context.Background()
	var all []patient.Patient
	for i := range 25 {
		all = append(all, create(t, store, fmt.Sprintf("p%02d@example.com", i)))
	}
	seen := map[string]int{}
	q := patient.Query{Limit: 10}
	pages := 0
	for {
		page, err := store.Search(ctx, q)
		require.NoError(t, err)
		pages++
		for _, p := range page.Items {
			seen[p.ID]++
		}
		if page.Next == nil {
			break
		}
		q.After = page.Next
	}
	assert.Equal(t, 3, pages)
	assert.Len(t, seen, 25)
	for id, n := range seen {
		assert.Equal(t, 1, n, id)
	}

	find := func(q patient.Query) []string {
		q.Limit = 100
		page, err := store.Search(ctx, q)
		require.NoError(t, err)
		var ids []string
		for _, p := range page.Items {
			ids = append(ids, p.ID)
		}
		return ids
	}
	assert.Equal(t, []string{all[3].ID}, find(patient.Query{Email: "P03@EXAMPLE.COM"}))
	assert.Equal(t, []string{all[4].ID}, find(patient.Query{MRN: "mrn-p04@example.com"}))
	assert.Len(t, find(patient.Query{Name: "ada p1"}), 10, "case-insensitive name prefix")
	assert.Len(t, find(patient.Query{Q: "p2"}), 5, "q matches email prefix")
	assert.Empty(t, find(patient.Query{Name: "%"}), "LIKE wildcards are literal")
	assert.Len(t, find(patient.Query{BirthDate: time.Date(1985, 12, 10, 0, 0, 0, 0, time.UTC)}), 25)
	assert.Empty(t, find(patient.Query{Deleted: true}))
}

// Whichever look answers a search (the short walk, the walk or the indexed
// look), its pages hold every match once, newest first: matches only
// older than the short walk reaches, matches the short walk finds a few
// of, and a common name that fills a page at once.
func TestSearchPagesAreWholeWhicheverLookAnswers(t *testing.T) {
	store := patientdb.New(template.Clone(t).Pool)
	ctx := context.Background()
	want := map[string][]string{} // name word → ids, newest first
	for i := 599; i >= 0; i-- {   // the last created is the newest: i = 0
		word := "common"
		switch {
		case i >= 550:
			word = "oldest" // only beyond the short walk's 500
		case i%100 == 7:
			word = "sparse" // five in the short walk, one beyond it
		}
		p, ev, a := newPatient(fmt.Sprintf("w%03d@example.com", i))
		p.Name = "Ada " + word
		ev.Patient = p
		require.NoError(t, store.Create(ctx, p, ev, a, nil))
		want[word] = append([]string{p.ID}, want[word]...)
	}
	for word, ids := range want {
		var got []string
		q := patient.Query{Name: word, Limit: 20}
		for {
			page, err := store.Search(ctx, q)
			require.NoError(t, err)
			for _, p := range page.Items {
				got = append(got, p.ID)
			}
			if page.Next == nil {
				break
			}
			q.After = page.Next
		}
		assert.Equal(t, ids, got, "name %q: every match once, newest first", word)
	}
}

// The service's runtime role (the login the tests' pools use, as the
// deployed service does) may append to and read the audit trail, nothing
// more; not even the owner can change it; and the role cannot reach another
// service's database.
func TestAuditLogIsAppendOnly(t *testing.T) {
	ctx := context.Background()
	db := template.Clone(t)
	store := patientdb.New(db.Pool)
	p := create(t, store, "a@example.com")
	entries, err := store.AuditTrail(ctx, p.ID, patient.AuditQuery{Limit: 10})
	require.NoError(t, err)
	require.Len(t, entries.Items, 1)
	assert.Equal(t, "create", entries.Items[0].Action)

	denied := func(t *testing.T, pool *pgxpool.Pool, sql, want string) {
		t.Helper()
		_, err := pool.Exec(ctx, sql)
		var pgErr *pgconn.PgError
		require.ErrorAs(t, err, &pgErr, sql)
		assert.Equal(t, want, pgErr.Code, "%s: %s", sql, pgErr.Message)
	}
	const insufficientPrivilege = "42501" // also "must be owner of table"
	for _, sql := range []string{
		`UPDATE audit_log SET outcome = 'tampered'`,
		`DELETE FROM audit_log`,
		`TRUNCATE audit_log`,
		`ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change`,
		`DROP TRIGGER audit_log_no_change ON audit_log`,
		`DROP TABLE audit_log`,
		`CREATE TABLE scratch (x int)`,
	} {
		denied(t, db.Pool, sql, insufficientPrivilege)
	}
	// A grant it has no right to give is ignored (with a warning).
	_, err = db.Pool.Exec(ctx, `GRANT UPDATE, DELETE, TRUNCATE ON audit_log TO PUBLIC`)
	require.NoError(t, err)
	var canChange bool
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT has_table_privilege('audit_log', 'UPDATE, DELETE, TRUNCATE')`).Scan(&canChange))
	assert.False(t, canChange)

	// The owner (the migration step's role) still meets the triggers.
	owner, err := pgxpool.New(ctx, db.OwnerURL)
	require.NoError(t, err)
	defer owner.Close()
	for _, sql := range []string{`UPDATE audit_log SET outcome = 'tampered'`, `DELETE FROM audit_log`, `TRUNCATE audit_log`} {
		_, err := owner.Exec(ctx, sql)
		assert.ErrorContains(t, err, "append-only", sql)
	}
	entries, err = store.AuditTrail(ctx, p.ID, patient.AuditQuery{Limit: 10})
	require.NoError(t, err)
	assert.Len(t, entries.Items, 1, "the audit trail is intact")

	// Another service's database, provisioned as deployments provision
	// theirs, refuses this service's login.
	other := pgdb.Plan{Database: "other_" + uuid.NewString()[:8], OwnerPassword: "o-" + uuid.NewString(), AppPassword: "a-" + uuid.NewString()}
	other.Roles = pgdb.RolesFor(other.Database)
	require.NoError(t, pgdb.Provision(ctx, pgtest.AdminURL(t), other))
	t.Cleanup(func() { dropProvisioned(t, other) })
	u, err := url.Parse(db.AppURL)
	require.NoError(t, err)
	u.Path = "/" + other.Database
	conn, err := pgx.Connect(ctx, u.String())
	if err == nil {
		conn.Close(ctx)
	}
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr, "connecting to another service's database")
	assert.Equal(t, insufficientPrivilege, pgErr.Code, pgErr.Message)
}

// dropProvisioned removes a database and roles provisioned by a test.
func dropProvisioned(t *testing.T, p pgdb.Plan) {
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, pgtest.AdminURL(t))
	require.NoError(t, err)
	defer admin.Close(ctx)
	for _, sql := range []string{
		"DROP DATABASE IF EXISTS " + pgx.Identifier{p.Database}.Sanitize() + " WITH (FORCE)",
		"DROP ROLE IF EXISTS " + pgx.Identifier{p.App}.Sanitize(),
		"DROP ROLE IF EXISTS " + pgx.Identifier{p.Runtime}.Sanitize(),
		"DROP ROLE IF EXISTS " + pgx.Identifier{p.Owner}.Sanitize(),
	} {
		_, err := admin.Exec(ctx, sql)
		assert.NoError(t, err, sql)
	}
}

func TestBillingAccountBookkeeping(t *testing.T) {
	store := patientdb.New(template.Pool(t))
	ctx := context.Background()
	a := create(t, store, "a@example.com")
	b := create(t, store, "b@example.com")
	missing, err := store.MissingBillingAccount(ctx, 10)
	require.NoError(t, err)
	assert.Len(t, missing, 2)
	require.NoError(t, store.SetBillingAccount(ctx, a.ID, "acct-a"))
	require.NoError(t, store.SetBillingAccount(ctx, a.ID, "acct-other"), "a second answer is ignored")
	got, _ := store.Get(ctx, a.ID)
	assert.Equal(t, "acct-a", got.BillingAccountID)
	missing, err = store.MissingBillingAccount(ctx, 10)
	require.NoError(t, err)
	require.Len(t, missing, 1)
	assert.Equal(t, b.ID, missing[0].ID)

	require.NoError(t, store.SetBillingAccounts(ctx, map[string]string{a.ID: "acct-again", b.ID: "acct-b"}))
	got, _ = store.Get(ctx, a.ID)
	assert.Equal(t, "acct-a", got.BillingAccountID, "a recorded account is kept")
	got, _ = store.Get(ctx, b.ID)
	assert.Equal(t, "acct-b", got.BillingAccountID)
	missing, err = store.MissingBillingAccount(ctx, 10)
	require.NoError(t, err)
	assert.Empty(t, missing)
}

func TestPublishPendingDeliversInOrderAndStopsAtFailure(t *testing.T) {
	pool := template.Pool(t)
	store := patientdb.New(pool)
	ctx := context.Background()
	// Two patients: A with three events (created, then updated twice), B
	// with one. A's second event fails to publish.
	a, evA, auditA := newPatient("a@example.com")
	require.NoError(t, store.Create(ctx, a, evA, auditA, nil))
	idsA := []string{evA.ID}
	for range 2 {
		a.Version++
		a.UpdatedAt = a.UpdatedAt.Add(time.Second)
		ev := patient.Event{ID: uuid.NewString(), Type: patient.EventUpdated, Patient: a, OccurredAt: a.UpdatedAt}
		require.NoError(t, store.Update(ctx, a, ev, auditA))
		idsA = append(idsA, ev.ID)
	}
	b, evB, auditB := newPatient("b@example.com")
	require.NoError(t, store.Create(ctx, b, evB, auditB, nil))

	var mu sync.Mutex
	seen := map[string][]string{} // by partition key, in publishing order
	n, err := outbox.PG{Pool: pool, Name: "patientdb"}.PublishPending(ctx, 10, outbox.InOrder(func(_ context.Context, m outbox.Message) error {
		if m.EventID == idsA[1] {
			return errors.New("broker down")
		}
		mu.Lock()
		seen[m.Key] = append(seen[m.Key], m.EventID)
		mu.Unlock()
		var ev patientv1.PatientEvent
		assert.NoError(t, protojson.Unmarshal([]byte(m.Payload), &ev))
		assert.Equal(t, m.EventID, ev.GetEventId())
		assert.Equal(t, m.Key, ev.GetPatientId(), "partitioned by patient")
		assert.Equal(t, "female", ev.GetAttributes().GetGender())
		assert.Equal(t, patient.AgeBand(time.Date(1985, 12, 10, 0, 0, 0, 0, time.UTC), time.Now()), ev.GetAttributes().GetAgeBand())
		assert.NotContains(t, m.Payload, "1985-12-10", "no date of birth in the event")
		assert.Equal(t, "patient", m.Topic)
		return nil
	}))
	require.ErrorContains(t, err, "broker down")
	assert.Equal(t, 2, n)
	assert.Equal(t, map[string][]string{a.ID: idsA[:1], b.ID: {evB.ID}}, seen,
		"B is published; A stops at its failure, so its third event waits behind its second")
	assert.Equal(t, 2, count(t, pool, `SELECT count(*) FROM outbox WHERE sent_at IS NULL`))
	assert.Equal(t, 1, count(t, pool, `SELECT count(*) FROM outbox WHERE last_error = 'broker down'`))

	seen = map[string][]string{}
	n, err = outbox.PG{Pool: pool, Name: "patientdb"}.PublishPending(ctx, 10, outbox.InOrder(func(_ context.Context, m outbox.Message) error {
		mu.Lock()
		seen[m.Key] = append(seen[m.Key], m.EventID)
		mu.Unlock()
		return nil
	}))
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.Equal(t, map[string][]string{a.ID: idsA[1:]}, seen, "the failed event is retried first, then the one behind it")
}

// A committed insert into the outbox wakes the watcher at once; a
// transaction rolled back does not.
func TestWatchOutboxWakesOnCommit(t *testing.T) {
	pool := template.Pool(t)
	store := patientdb.New(pool)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wake := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		done <- outbox.PG{Pool: pool, Name: "patientdb"}.Watch(ctx, slog.New(slog.DiscardHandler), wake)
	}()
	select {
	case <-wake: // the signal given once listening
	case <-time.After(5 * time.Second):
		t.Fatal("the watcher did not start listening")
	}

	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `INSERT INTO outbox (event_id, topic, partition_key, payload) VALUES (gen_random_uuid(), 'patient', 'k', '{}')`)
	require.NoError(t, err)
	require.NoError(t, tx.Rollback(ctx))
	select {
	case <-wake:
		t.Fatal("woken by a transaction that rolled back")
	case <-time.After(300 * time.Millisecond):
	}

	start := time.Now()
	create(t, store, "wake@example.com")
	select {
	case <-wake:
		t.Logf("woken %s after the commit began", time.Since(start))
	case <-time.After(5 * time.Second):
		t.Fatal("a committed registration did not wake the watcher")
	}
	cancel()
	assert.NoError(t, <-done)
}

// A listener whose connection is cut listens again, and after each
// successful reconnect the next wait starts from the shortest again.
func TestWatchOutboxListensAgainAfterLosingItsConnection(t *testing.T) {
	pool := template.Pool(t)
	store := patientdb.New(pool)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs syncBuffer
	wake := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		done <- outbox.PG{Pool: pool, Name: "patientdb"}.Watch(ctx, slog.New(slog.NewJSONHandler(&logs, nil)), wake)
	}()

	listener := func() int {
		var pid int
		err := pool.QueryRow(ctx, `SELECT pid FROM pg_stat_activity
WHERE datname = current_database() AND query = 'LISTEN outbox' AND state = 'idle'`).Scan(&pid)
		if errors.Is(err, pgx.ErrNoRows) {
			return 0
		}
		require.NoError(t, err)
		return pid
	}
	last := 0
	for round := range 3 {
		var pid int
		require.Eventually(t, func() bool { pid = listener(); return pid != 0 && pid != last },
			10*time.Second, 20*time.Millisecond, "round %d: listening on a new connection", round)
		_, err := pool.Exec(ctx, "SELECT pg_terminate_backend($1)", pid)
		require.NoError(t, err)
		last = pid
	}
	// A new connection: the one terminated last may linger in
	// pg_stat_activity a moment after pg_terminate_backend returns.
	require.Eventually(t, func() bool { pid := listener(); return pid != 0 && pid != last },
		10*time.Second, 20*time.Millisecond, "listening at the end")

	create(t, store, "rewake@example.com")
	require.Eventually(t, func() bool {
		select {
		case <-wake:
			return true
		default:
			return false
		}
	}, 5*time.Second, 10*time.Millisecond, "a commit wakes the watcher after its reconnects")
	cancel()
	require.NoError(t, <-done)

	var waits []string
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec struct {
			RetryIn string `json:"retry_in"`
		}
		require.NoError(t, json.Unmarshal([]byte(line), &rec), line)
		waits = append(waits, rec.RetryIn)
	}
	assert.Equal(t, []string{"100ms", "100ms", "100ms"}, waits, "each loss followed a successful LISTEN")
}

// syncBuffer is a bytes.Buffer safe for a logger's goroutine and the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestHousekeepingRemovesOnlyExpiredBookkeeping(t *testing.T) {
	pool := template.Pool(t)
	store := patientdb.New(pool)
	ctx := context.Background()
	for i, email := range []string{"old@example.com", "new@example.com"} {
		p, ev, a := newPatient(email)
		require.NoError(t, store.Create(ctx, p, ev, a, &patient.IdempotencyKey{UserID: "u", Key: email, RequestHash: []byte{byte(i)}}))
	}
	_, err := outbox.PG{Pool: pool, Name: "patientdb"}.PublishPending(ctx, 10, outbox.InOrder(func(context.Context, outbox.Message) error { return nil }))
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = 'old@example.com'`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `UPDATE outbox SET sent_at = now() - interval '8 days' WHERE id = (SELECT min(id) FROM outbox)`)
	require.NoError(t, err)
	p, ev, a := newPatient("unsent@example.com")
	require.NoError(t, store.Create(ctx, p, ev, a, nil))

	admin := patient.Actor{UserID: "a", Role: patient.RoleAdmin}
	for _, at := range []time.Time{time.Now().Add(-31 * 24 * time.Hour), time.Now()} {
		_, err := store.SubmitImport(ctx, patient.ImportJob{ID: uuid.NewString(), Actor: admin, SubmittedAt: at},
			func() (patient.ImportLine, bool, error) { return patient.ImportLine{}, false, nil })
		require.NoError(t, err)
	}

	removed, err := store.Housekeep(ctx, time.Now())
	require.NoError(t, err)
	assert.Equal(t, patientdb.Removed{Keys: 1, Events: 1, Imports: 1}, removed)
	assert.Equal(t, 1, count(t, pool, `SELECT count(*) FROM import_jobs`), "a recent import stays")
	assert.Equal(t, 1, count(t, pool, `SELECT count(*) FROM idempotency_keys`))
	assert.Equal(t, 1, count(t, pool, `SELECT count(*) FROM outbox WHERE sent_at IS NULL`), "unsent events stay")
	assert.Equal(t, 3, count(t, pool, `SELECT count(*) FROM patients`), "patients are never touched")
}

// The PostgreSQL store meets the contract the fake store used by the
// domain tests meets too.
func TestPostgresStoreMeetsTheStoreContract(t *testing.T) {
	patienttest.StoreContract(t, func(t *testing.T) patient.Store { return patientdb.New(template.Pool(t)) })
}
