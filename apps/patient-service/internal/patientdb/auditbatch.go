package patientdb

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pms-dapr/pms/apps/patient-service/internal/patient"
)

// maxAuditBatch bounds the entries one INSERT carries.
const maxAuditBatch = 512

// auditBatchTimeout bounds one batch's INSERT; it does not end with the
// context of the caller who happens to write it, whose entry is one of
// many.
const auditBatchTimeout = 10 * time.Second

// insertAuditBatch writes any number of entries with one statement (one
// prepared statement whatever their number): the columns as arrays,
// unnested into rows in order.
const insertAuditBatch = `INSERT INTO audit_log
	(occurred_at, user_id, role, action, patient_ids, request_id, outcome, detail)
	SELECT a, u, r, ac, string_to_array(p, ',')::uuid[], rq, o, d
	FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
	AS t(a, u, r, ac, p, rq, o, d)`

// auditGroup group-commits the audit entries written on their own (reads,
// searches, histories, failures). Concurrent callers' entries reach
// PostgreSQL together: whatever is waiting when the previous commit
// returns goes in one INSERT and one commit, and each caller returns once
// its own entry is committed, or with the error that kept it out. An
// answer that depends on its audit entry is therefore never given before
// the entry is durable, and a busy server commits once per batch rather
// than once per read.
//
// There is no long-lived writer: the first caller to find none at work
// starts one, which writes batches until the queue is empty.
type auditGroup struct {
	pool *pgxpool.Pool

	mu      sync.Mutex
	queue   []auditWait
	writing bool
}

type auditWait struct {
	e    patient.AuditEntry
	done chan error
}

// record commits e with whatever else is waiting.
func (g *auditGroup) record(ctx context.Context, e patient.AuditEntry) error {
	w := auditWait{e: e, done: make(chan error, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, w)
	lead := !g.writing
	g.writing = true
	g.mu.Unlock()
	if lead {
		go g.drain()
	}
	select {
	case err := <-w.done:
		return err
	case <-ctx.Done():
		// The entry may still be committed; the caller gives no answer
		// that depends on it.
		return ctx.Err()
	}
}

// drain writes batches until the queue is empty.
func (g *auditGroup) drain() {
	for {
		g.writeNext()
		g.mu.Lock()
		if len(g.queue) == 0 {
			g.writing = false
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
	}
}

// writeNext writes up to maxAuditBatch waiting entries and tells each
// waiter how it went.
func (g *auditGroup) writeNext() {
	g.mu.Lock()
	n := min(len(g.queue), maxAuditBatch)
	batch := g.queue[:n:n]
	g.queue = g.queue[n:]
	g.mu.Unlock()
	if n == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), auditBatchTimeout)
	defer cancel()
	err := g.insert(ctx, batch)
	if err != nil && n > 1 && rejectedData(err) {
		// One entry PostgreSQL refuses (a NUL in a detail, say) must not
		// take the others with it: each is written on its own.
		for _, w := range batch {
			w.done <- g.insert(ctx, []auditWait{w})
		}
		return
	}
	for _, w := range batch {
		w.done <- err
	}
}

func (g *auditGroup) insert(ctx context.Context, batch []auditWait) error {
	at := make([]time.Time, len(batch))
	var user, role, action, ids, request, outcome, detail = make([]string, len(batch)), make([]string, len(batch)),
		make([]string, len(batch)), make([]string, len(batch)), make([]string, len(batch)), make([]string, len(batch)),
		make([]string, len(batch))
	for i, w := range batch {
		e := w.e
		at[i], user[i], role[i], action[i] = e.At, e.UserID, e.Role, e.Action
		ids[i], request[i], outcome[i], detail[i] = strings.Join(e.PatientIDs, ","), e.RequestID, e.Outcome, e.Detail
	}
	_, err := g.pool.Exec(ctx, insertAuditBatch, at, user, role, action, ids, request, outcome, detail)
	return err
}

// rejectedData reports whether PostgreSQL refused what a statement held
// (SQLSTATE classes 22, data exception, and 23, integrity constraint
// violation), rather than failing to run it.
func rejectedData(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && len(pgErr.Code) == 5 && (pgErr.Code[:2] == "22" || pgErr.Code[:2] == "23")
}
