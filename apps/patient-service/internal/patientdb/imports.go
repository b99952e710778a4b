package patientdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pms-dapr/pms/apps/patient-service/internal/patient"
	"github.com/pms-dapr/pms/apps/patient-service/internal/patientevents"
	"github.com/pms-dapr/pms/platform/outbox"
	"github.com/pms-dapr/pms/platform/pgdb"
)

const importColumns = `id::text, user_id, role, request_id, submitted_at, lines, pending, imported, updated, unchanged, rejected,
	coalesce(finished_at, '0001-01-01 00:00:00+00')`

func scanImport(row pgx.CollectableRow) (patient.ImportJob, error) {
	var j patient.ImportJob
	err := row.Scan(&j.ID, &j.Actor.UserID, &j.Actor.Role, &j.Actor.RequestID, &j.SubmittedAt, &j.Lines, &j.Pending,
		&j.Counts.Imported, &j.Counts.Updated, &j.Counts.Unchanged, &j.Counts.Rejected, &j.FinishedAt)
	j.SubmittedAt, j.FinishedAt = j.SubmittedAt.UTC(), j.FinishedAt.UTC()
	return j, err
}

// SubmitImport stores job and its lines (one COPY, streamed as next
// yields them) with an audit entry of the submission, all or nothing.
func (s *Store) SubmitImport(ctx context.Context, job patient.ImportJob, next func() (patient.ImportLine, bool, error)) (patient.ImportJob, error) {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		a := job.Actor
		if _, err := tx.Exec(ctx, `INSERT INTO import_jobs (id, user_id, role, request_id, submitted_at, lines, pending)
			VALUES ($1, $2, $3, $4, $5, 0, 0)`, job.ID, a.UserID, a.Role, a.RequestID, job.SubmittedAt); err != nil {
			return err
		}
		n, err := tx.CopyFrom(ctx, pgx.Identifier{"import_lines"}, []string{"job_id", "line_no", "body"},
			pgx.CopyFromFunc(func() ([]any, error) {
				l, ok, err := next()
				if err != nil || !ok {
					return nil, err
				}
				return []any{job.ID, l.No, l.Body}, nil
			}))
		if err != nil {
			return err
		}
		job.Lines, job.Pending = int(n), int(n)
		if n == 0 {
			job.FinishedAt = job.SubmittedAt
		}
		if _, err := tx.Exec(ctx, `UPDATE import_jobs SET lines = $2, pending = $2, finished_at = nullif($3, '0001-01-01 00:00:00+00'::timestamptz)
			WHERE id = $1`, job.ID, n, job.FinishedAt); err != nil {
			return err
		}
		b := &pgx.Batch{}
		queueAudit(b, patient.AuditEntry{At: job.SubmittedAt, UserID: a.UserID, Role: a.Role, Action: patient.ActionImport,
			RequestID: a.RequestID, Outcome: "success", Detail: fmt.Sprintf("import %s received: %d patients", job.ID, n)})
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return patient.ImportJob{}, pgdb.Errorf("patientdb.submit_import: %w", err)
	}
	return job, nil
}

// Import returns job id.
func (s *Store) Import(ctx context.Context, id string) (patient.ImportJob, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+importColumns+` FROM import_jobs WHERE id = $1`, id)
	j, err := pgx.CollectExactlyOneRow(rows, scanImport)
	if errors.Is(err, pgx.ErrNoRows) {
		return patient.ImportJob{}, patient.ErrNotFound
	}
	if err != nil {
		return patient.ImportJob{}, pgdb.Errorf("patientdb.import: %w", err)
	}
	return j, nil
}

// lineIssue is a refused line's issue as stored.
type lineIssue struct {
	Expression string `json:"expression"`
	Message    string `json:"message"`
}

// ImportErrors returns a page of job id's refused lines, in line order.
func (s *Store) ImportErrors(ctx context.Context, id string, after, limit int) ([]patient.LineError, error) {
	rows, _ := s.pool.Query(ctx, `SELECT line_no, issues FROM import_errors WHERE job_id = $1 AND line_no > $2
		ORDER BY line_no LIMIT $3`, id, after, limit)
	es, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (patient.LineError, error) {
		var e patient.LineError
		var issues []lineIssue
		if err := r.Scan(&e.Line, &issues); err != nil {
			return e, err
		}
		for _, i := range issues {
			e.Issues = append(e.Issues, patient.LineIssue{Expression: i.Expression, Message: i.Message})
		}
		return e, nil
	})
	if err != nil {
		return nil, pgdb.Errorf("patientdb.import_errors: %w", err)
	}
	return es, nil
}

// ImportNext imports the next lines of the oldest job with lines pending,
// holding its row (FOR UPDATE SKIP LOCKED: another worker takes another
// job, or waits for the next batch) until the batch is written.
func (s *Store) ImportNext(ctx context.Context, limit int, plan func(patient.ImportJob, []patient.ImportLine, func(mrns, emails []string) (patient.Known, error)) (patient.ImportBatch, error)) (patient.ImportJob, bool, error) {
	var job patient.ImportJob
	found := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT `+importColumns+` FROM import_jobs WHERE finished_at IS NULL
			ORDER BY submitted_at, id LIMIT 1 FOR UPDATE SKIP LOCKED`)
		var err error
		job, err = pgx.CollectExactlyOneRow(rows, scanImport)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		rows, _ = tx.Query(ctx, `SELECT line_no, body FROM import_lines WHERE job_id = $1 ORDER BY line_no LIMIT $2`, job.ID, limit)
		lines, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (patient.ImportLine, error) {
			var l patient.ImportLine
			err := r.Scan(&l.No, &l.Body)
			return l, err
		})
		if err != nil {
			return err
		}
		b, err := plan(job, lines, func(mrns, emails []string) (patient.Known, error) { return known(ctx, tx, mrns, emails) })
		if err != nil {
			return err
		}
		if err := writeImport(ctx, tx, job.ID, b); err != nil {
			return err
		}
		last := 0
		if len(lines) > 0 {
			last = lines[len(lines)-1].No
		}
		if _, err := tx.Exec(ctx, `DELETE FROM import_lines WHERE job_id = $1 AND line_no <= $2`, job.ID, last); err != nil {
			return err
		}
		c := b.Counts
		done := len(lines)
		if done == 0 {
			done = job.Pending // nothing left to read: the job is over
		}
		rows, _ = tx.Query(ctx, `UPDATE import_jobs SET pending = pending - $2, imported = imported + $3, updated = updated + $4,
				unchanged = unchanged + $5, rejected = rejected + $6,
				finished_at = CASE WHEN pending - $2 = 0 THEN $7::timestamptz END
			WHERE id = $1 RETURNING `+importColumns, job.ID, done, c.Imported, c.Updated, c.Unchanged, c.Rejected, time.Now().UTC())
		job, err = pgx.CollectExactlyOneRow(rows, scanImport)
		return err
	})
	var pgErr *pgconn.PgError
	switch {
	case err == nil:
		return job, found, nil
	case rejectedData(err) && errors.As(err, &pgErr):
		what := "SQLSTATE " + pgErr.Code
		if pgErr.ConstraintName != "" {
			what += ", constraint " + pgErr.ConstraintName
		}
		return patient.ImportJob{}, false, fmt.Errorf("patientdb.import_next: %w (%s)", patient.ErrStoreRefused, what)
	}
	return patient.ImportJob{}, false, pgdb.Errorf("patientdb.import_next: %w", err)
}

// RefuseImportLine records a line of job id as refused and no longer
// pending, in one transaction; a line no longer pending is left as it is.
func (s *Store) RefuseImportLine(ctx context.Context, id string, e patient.LineError) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM import_lines WHERE job_id = $1 AND line_no = $2`, id, e.Line)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		if err := writeImport(ctx, tx, id, patient.ImportBatch{Rejected: []patient.LineError{e}}); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE import_jobs SET pending = pending - 1, rejected = rejected + 1,
			finished_at = CASE WHEN pending = 1 THEN now() END WHERE id = $1`, id)
		return err
	})
	if err != nil {
		return pgdb.Errorf("patientdb.refuse_import_line: %w", err)
	}
	return nil
}

// known reads, in tx, the patients holding mrns (locking them until the
// batch is written) and the holders of emails.
func known(ctx context.Context, tx pgx.Tx, mrns, emails []string) (patient.Known, error) {
	k := patient.Known{ByMRN: map[string]patient.Patient{}, EmailOf: map[string]string{}}
	if len(mrns) == 0 {
		return k, nil
	}
	rows, _ := tx.Query(ctx, `SELECT `+patientColumns+` FROM patients WHERE upper(mrn) = ANY($1) FOR UPDATE`, mrns)
	ps, err := pgx.CollectRows(rows, scanPatient)
	if err != nil {
		return k, err
	}
	for _, p := range ps {
		k.ByMRN[strings.ToUpper(p.MRN)] = p
	}
	rows, _ = tx.Query(ctx, `SELECT lower(email), id::text FROM patients WHERE lower(email) = ANY($1)`, emails)
	var email, id string
	_, err = pgx.ForEachRow(rows, []any{&email, &id}, func() error {
		k.EmailOf[email] = id
		return nil
	})
	return k, err
}

// writeImport writes a batch: new patients, their first versions and
// events with one COPY each; changed patients one by one, as an update;
// the audit entry naming them; the refused lines with why.
func writeImport(ctx context.Context, tx pgx.Tx, jobID string, b patient.ImportBatch) error {
	if len(b.Created) > 0 {
		patients, versions := make([][]any, len(b.Created)), make([][]any, len(b.Created))
		for i, c := range b.Created {
			p := c.Patient
			k := keysOf(p)
			patients[i] = []any{p.ID, p.Name, p.Email, p.Address, pgdb.NullIfEmpty(p.Phone), pgdb.NullIfEmpty(p.Gender), p.MRN, p.DateOfBirth,
				p.RegisteredDate, p.Version, p.CreatedAt, p.UpdatedAt, k.family, k.given, k.name, k.familyKey, k.givenKeys, k.prefixes,
				pgdb.NullIfEmpty(p.BillingAccountID), moreResource(p), orNone(p.More.Identifiers), orNone(p.More.OtherNames)}
			rec, err := json.Marshal(recordOf(p))
			if err != nil {
				return err
			}
			versions[i] = []any{p.ID, p.Version, patient.ActionCreate, p.UpdatedAt, rec}
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"patients"}, []string{"id", "name", "email", "address", "phone", "gender", "mrn",
			"date_of_birth", "registered_date", "version", "created_at", "updated_at", "family_name", "given_names", "name_key",
			"family_key", "given_keys", "name_prefixes", "billing_account_id", "more_resource", "identifier_keys", "other_names"},
			pgx.CopyFromRows(patients)); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"patient_versions"}, []string{"patient_id", "version", "action", "recorded_at", "record"},
			pgx.CopyFromRows(versions)); err != nil {
			return err
		}
	}
	// The batch's events go out packed (PatientEventBatch): one message per
	// MaxBatch patients through the relay, the broker and each consumer's
	// sidecar, where one each cost half of an import's CPU.
	evs := make([]patient.Event, 0, len(b.Created)+len(b.Updated))
	for _, cs := range [][]patient.Change{b.Created, b.Updated} {
		for _, c := range cs {
			evs = append(evs, c.Event)
		}
	}
	msgs, err := patientevents.EncodeBatches(evs)
	if err != nil {
		return err
	}
	batch := &pgx.Batch{}
	for _, c := range b.Updated {
		p := c.Patient
		k := keysOf(p)
		batch.Queue(updatePatient, updateArgs(p, k)...).
			Exec(func(tag pgconn.CommandTag) error {
				if tag.RowsAffected() == 0 {
					return fmt.Errorf("patient %s changed during the import: %w", p.ID, patient.ErrVersionMismatch)
				}
				return nil
			})
		if err := queueVersion(batch, p, patient.ActionUpdate); err != nil {
			return err
		}
	}
	if len(b.Audit.PatientIDs) > 0 {
		queueAudit(batch, b.Audit)
	}
	if batch.Len() > 0 {
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			return err
		}
	}
	if len(msgs) > 0 {
		if err := outbox.Copy(ctx, tx, msgs); err != nil {
			return err
		}
	}
	if len(b.Rejected) > 0 {
		rows := make([][]any, len(b.Rejected))
		for i, e := range b.Rejected {
			issues := make([]lineIssue, len(e.Issues))
			for j, is := range e.Issues {
				issues[j] = lineIssue{Expression: is.Expression, Message: is.Message}
			}
			rows[i] = []any{jobID, e.Line, issues}
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"import_errors"}, []string{"job_id", "line_no", "issues"}, pgx.CopyFromRows(rows)); err != nil {
			return err
		}
	}
	return nil
}
