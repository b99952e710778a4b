package patient

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// An import brings an existing registry in: a file of patients, one per
// line, is stored whole as a job when it is received, and a worker
// (Importer.Run) then imports it a batch of lines at a time, each batch in
// one transaction that also removes its lines and counts them, so an
// import resumes where it stopped after a restart of any process.
//
// A patient is found again by its medical record number: a line whose MRN
// a live patient holds updates that patient (or changes nothing when it
// says what is stored), so importing a file twice changes nothing the
// second time. Each batch's new and changed patients get their versions,
// their events (through the outbox) and one audit entry naming them all.
// A batch's new patients get their billing accounts before they are
// stored, with one call to billing (their ids are derived from the job and
// the line, so a batch tried again asks for the same accounts); if billing
// cannot answer they are stored without, and the reconciler, which the
// batch wakes, opens them later.

// ImportCounts says what an import did with its lines so far.
type ImportCounts struct {
	Imported  int // new patients
	Updated   int // patients the line changed
	Unchanged int // patients the line described as stored
	Rejected  int // lines refused (see ImportErrors)
}

// ImportJob is one received file and its progress.
type ImportJob struct {
	ID          string
	Actor       Actor // who sent it: its patients' changes are theirs
	SubmittedAt time.Time
	Lines       int // patients received (blank lines are not counted)
	Pending     int // of them, not yet imported
	Counts      ImportCounts
	FinishedAt  time.Time // zero while lines are pending
}

// Done reports whether every line of the job was handled.
func (j ImportJob) Done() bool { return !j.FinishedAt.IsZero() }

// ImportLine is one line of an import's file; No counts from 1 and
// includes blank lines, as an editor shows them.
type ImportLine struct {
	No   int
	Body []byte
}

// LineIssue is one thing wrong with a line, by the element at fault (a
// FHIRPath such as Patient.birthDate).
type LineIssue struct{ Expression, Message string }

// LineError is a refused line and why.
type LineError struct {
	Line   int
	Issues []LineIssue
}

// ImportDecoder reads one line as a draft (Decode, with what is wrong with
// it by element), and says by element what is wrong with a draft the
// domain refused (Explain: a validation error).
type ImportDecoder interface {
	// Decode reads one line; it is called for several lines at once.
	Decode(body []byte) (Draft, []LineIssue)
	Explain(err error) []LineIssue
}

// Known is what the store holds of the patients a batch names: the
// patient holding each MRN (upper case) and the id of the patient holding
// each email (lower case), deleted ones included.
type Known struct {
	ByMRN   map[string]Patient
	EmailOf map[string]string
}

// ImportBatch is what one batch of lines does; the store writes it,
// removes the lines and adds Counts to the job's in one transaction.
type ImportBatch struct {
	Created  []Change
	Updated  []Change
	Rejected []LineError
	Audit    AuditEntry // names every patient created or updated; none: not written
	Counts   ImportCounts
}

// Change is a patient's new version and its event.
type Change struct {
	Patient Patient
	Event   Event
}

// ImportStore keeps import jobs and their lines.
type ImportStore interface {
	// SubmitImport stores job with the lines next yields (ok false: no
	// more), all or nothing, and returns it with its line count.
	SubmitImport(ctx context.Context, job ImportJob, next func() (ImportLine, bool, error)) (ImportJob, error)
	// Import returns job id, or ErrNotFound.
	Import(ctx context.Context, id string) (ImportJob, error)
	// ImportErrors returns up to limit refused lines of job id after line
	// after, in line order.
	ImportErrors(ctx context.Context, id string, after, limit int) ([]LineError, error)
	// ImportNext takes up to limit lines of the oldest job with lines
	// pending, under a lock another worker skips, and writes what plan
	// makes of them (plan reads the patients the lines name through
	// lookup, in the same transaction). ok is false when no job has lines
	// pending.
	ImportNext(ctx context.Context, limit int, plan func(job ImportJob, lines []ImportLine, lookup func(mrns, emails []string) (Known, error)) (ImportBatch, error)) (job ImportJob, ok bool, err error)
	// RefuseImportLine records line e.Line of job id as refused (and
	// no longer pending), unless it is no longer pending.
	RefuseImportLine(ctx context.Context, id string, e LineError) error
}

// ErrStoreRefused is the database refusing what a batch holds (a value
// or a constraint), rather than failing to run: trying again as it is
// cannot help.
var ErrStoreRefused = errors.New("the database refused what the batch holds")

// MaxImportLineBytes bounds one line (one patient) of an import.
const MaxImportLineBytes = 64 << 10

// ImportBatchLines is how many lines one transaction imports.
const ImportBatchLines = 1000

// ImportWorkers is how many imports one process runs side by side (Run
// once each): a job's batches go one after another, in line order, and
// each waits on the database, billing and its own decoding in turn, so a
// second job keeps the cores busy meanwhile. Two jobs that name the same
// patient at once each apply their lines whole; which is applied last is
// the one whose batch commits last, as with two registrations' updates.
const ImportWorkers = 2

// Importer receives imports and runs them.
type Importer struct {
	store   ImportStore
	dec     ImportDecoder
	billing Billing // nil: accounts are left to the reconciler
	wake    func()  // after a batch stored patients without accounts
	log     *slog.Logger
	now     func() time.Time
	signal  chan struct{}
}

// NewImporter returns an Importer over store reading lines with dec and
// opening accounts with billing; wake is called after each batch that
// stored patients without accounts.
func NewImporter(store ImportStore, dec ImportDecoder, billing Billing, wake func(), log *slog.Logger) *Importer {
	return &Importer{store: store, dec: dec, billing: billing, wake: wake, log: log, now: time.Now, signal: make(chan struct{}, ImportWorkers)}
}

// importNamespace derives imported patients' ids from their job and line.
var importNamespace = uuid.MustParse("5b0f7c1e-8a57-4c8e-9d0c-6c1f3e2a9b41")

// withAccounts opens the accounts of a batch's new patients with one call
// and records them on the patients; on failure they stay without (the
// reconciler's work) and it says so.
func (im *Importer) withAccounts(ctx context.Context, created []Change) bool {
	if im.billing == nil || len(created) == 0 {
		return len(created) == 0
	}
	ids := make([]string, len(created))
	for i, c := range created {
		ids[i] = c.Patient.ID
	}
	accts, err := im.billing.CreateAccounts(ctx, ids)
	if err == nil && len(accts) != len(ids) {
		err = fmt.Errorf("billing answered %d accounts for %d patients", len(accts), len(ids))
	}
	if err != nil {
		im.log.WarnContext(ctx, "billing accounts of imported patients not opened yet; will retry in background", "patients", len(ids), "err", err)
		return false
	}
	for i := range created {
		created[i].Patient.BillingAccountID = accts[i]
	}
	return true
}

// Submit stores the patients body holds, one FHIR Patient per line, as a
// new job for Run. Only admins import.
func (im *Importer) Submit(ctx context.Context, a Actor, body io.Reader) (ImportJob, error) {
	if a.Role != RoleAdmin {
		return ImportJob{}, ErrForbidden
	}
	job := ImportJob{ID: uuid.NewString(), Actor: a, SubmittedAt: im.clock()}
	r := bufio.NewReaderSize(body, 256<<10)
	no := 0
	var readErr error // the store may report it as its own
	next := func() (ImportLine, bool, error) {
		for {
			line, err := r.ReadBytes('\n')
			if err != nil && !errors.Is(err, io.EOF) {
				readErr = &UnreadableError{Err: err}
				return ImportLine{}, false, readErr
			}
			if len(line) == 0 && err != nil {
				return ImportLine{}, false, nil
			}
			no++
			if line = bytes.TrimSpace(line); len(line) > 0 {
				return ImportLine{No: no, Body: line}, true, nil
			}
		}
	}
	job, err := im.store.SubmitImport(ctx, job, next)
	if readErr != nil {
		return ImportJob{}, wrap("patient.import", readErr)
	}
	if err != nil {
		return ImportJob{}, wrap("patient.import", err)
	}
	if job.Lines == 0 {
		return job, nil
	}
	im.log.InfoContext(ctx, "import received", "import_id", job.ID, "lines", job.Lines, "user_id", a.UserID)
	for range ImportWorkers { // every idle worker looks; one takes the job
		select {
		case im.signal <- struct{}{}:
		default:
		}
	}
	return job, nil
}

// UnreadableError is an import's body that could not be read to its end
// (the client went away, or sent more than it may): nothing of it is kept.
type UnreadableError struct{ Err error }

func (e *UnreadableError) Error() string {
	return "the import's body could not be read: " + e.Err.Error()
}

func (e *UnreadableError) Unwrap() error { return e.Err }

// Status returns import id; only admins read it.
func (im *Importer) Status(ctx context.Context, a Actor, id string) (ImportJob, error) {
	if a.Role != RoleAdmin {
		return ImportJob{}, ErrForbidden
	}
	if !ValidID(id) {
		return ImportJob{}, ErrNotFound
	}
	job, err := im.store.Import(ctx, id)
	return job, wrap("patient.import_status", err)
}

// Errors returns up to limit refused lines of import id after line after.
func (im *Importer) Errors(ctx context.Context, a Actor, id string, after, limit int) ([]LineError, error) {
	if _, err := im.Status(ctx, a, id); err != nil {
		return nil, err
	}
	es, err := im.store.ImportErrors(ctx, id, after, limit)
	return es, wrap("patient.import_errors", err)
}

// Run imports the pending lines of every job, a batch at a time, until ctx
// ends; it looks for work when Submit signals one and every interval.
// ImportWorkers of it run at once, each on a job the others do not hold. A
// batch that fails (the database is down; a registration took an email
// the batch holds) is retried after a pause. A batch whose content the
// database refuses (ErrStoreRefused) is imported again a line at a time,
// and the line it refuses is recorded as refused, so one line never holds
// up an import.
func (im *Importer) Run(ctx context.Context, interval time.Duration) error {
	wait := time.Duration(0)
	alone := 0 // lines still to import one at a time, after a batch the database refused
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		case <-im.signal:
		}
		accounted := true
		size := ImportBatchLines
		if alone > 0 {
			size = 1
		}
		var tried ImportJob
		var triedLines []ImportLine
		job, ok, err := im.store.ImportNext(ctx, size, func(job ImportJob, lines []ImportLine, lookup func(mrns, emails []string) (Known, error)) (ImportBatch, error) {
			tried, triedLines = job, lines
			b, err := im.plan(job, lines, lookup)
			if err == nil {
				accounted = im.withAccounts(ctx, b.Created)
			}
			return b, err
		})
		refused := errors.Is(err, ErrStoreRefused)
		switch {
		case ctx.Err() != nil:
			return nil
		case refused && size > 1:
			// Which line? Line by line through this batch finds it.
			im.log.WarnContext(ctx, "import batch refused by the database; importing its lines one by one", "import_id", tried.ID, "err", err)
			alone, wait = ImportBatchLines, 0
		case refused && len(triedLines) == 1:
			line := LineError{Line: triedLines[0].No, Issues: []LineIssue{{Expression: "Patient",
				Message: "could not be stored: " + strings.TrimPrefix(err.Error(), "patientdb.import_next: ")}}}
			if rerr := im.store.RefuseImportLine(ctx, tried.ID, line); rerr != nil {
				im.log.WarnContext(ctx, "refused import line not recorded; retrying", "import_id", tried.ID, "line", line.Line, "err", rerr)
				wait = min(max(2*wait, time.Second), 30*time.Second)
				continue
			}
			im.log.WarnContext(ctx, "import line refused by the database", "import_id", tried.ID, "line", line.Line, "err", err)
			wait = 0
		case err != nil:
			im.log.WarnContext(ctx, "import batch failed; retrying", "err", err)
			wait = min(max(2*wait, time.Second), 30*time.Second)
		case !ok:
			wait = interval
		default:
			wait, alone = 0, max(alone-1, 0)
			if job.Done() {
				im.log.InfoContext(ctx, "import done", "import_id", job.ID, "lines", job.Lines, "imported", job.Counts.Imported,
					"updated", job.Counts.Updated, "unchanged", job.Counts.Unchanged, "rejected", job.Counts.Rejected)
			}
			if !accounted && im.wake != nil {
				im.wake()
			}
		}
	}
}

// pending is a line read as a patient, on its way to a decision.
type pending struct {
	line  int
	draft Draft
	p     Patient
}

// plan decides what each line of a batch does.
func (im *Importer) plan(job ImportJob, lines []ImportLine, lookup func(mrns, emails []string) (Known, error)) (ImportBatch, error) {
	var b ImportBatch
	now := im.clock()
	reject := func(line int, issues ...LineIssue) {
		b.Rejected = append(b.Rejected, LineError{Line: line, Issues: issues})
	}
	var ok []pending
	var mrns, emails []string
	drafts := im.decodeAll(lines)
	for i, l := range lines {
		if len(l.Body) > MaxImportLineBytes {
			reject(l.No, LineIssue{"Patient", fmt.Sprintf("the line is longer than %d bytes", MaxImportLineBytes)})
			continue
		}
		d, issues := drafts[i].draft, drafts[i].issues
		if len(issues) > 0 {
			reject(l.No, issues...)
			continue
		}
		if strings.TrimSpace(d.MRN) == "" {
			reject(l.No, LineIssue{"Patient.identifier", "an imported Patient needs its medical record number, by which a second import finds it"})
			continue
		}
		ok = append(ok, pending{line: l.No, draft: d})
		mrns = append(mrns, strings.ToUpper(strings.TrimSpace(d.MRN)))
		emails = append(emails, strings.ToLower(strings.TrimSpace(d.Email)))
	}
	known, err := lookup(mrns, emails)
	if err != nil {
		return ImportBatch{}, err
	}
	mrnLine, emailLine := map[string]int{}, map[string]int{}
	for _, c := range ok {
		mrn, email := strings.ToUpper(strings.TrimSpace(c.draft.MRN)), strings.ToLower(strings.TrimSpace(c.draft.Email))
		if first, dup := mrnLine[mrn]; dup {
			reject(c.line, LineIssue{"Patient.identifier", fmt.Sprintf("line %d of this import has the same medical record number", first)})
			continue
		}
		cur, exists := known.ByMRN[mrn]
		if exists && cur.Deleted() {
			reject(c.line, LineIssue{"Patient.identifier", "the patient with this medical record number was deleted"})
			continue
		}
		d := c.draft
		if exists {
			d.RegisteredDate = cur.RegisteredDate.Format(DateLayout)
		}
		p, err := d.Validate(today(now))
		if err != nil {
			reject(c.line, im.dec.Explain(err)...)
			continue
		}
		if first, dup := emailLine[email]; dup {
			reject(c.line, LineIssue{"Patient.telecom.where(system='email')", fmt.Sprintf("line %d of this import has the same email", first)})
			continue
		}
		if owner, taken := known.EmailOf[email]; taken && (!exists || owner != cur.ID) {
			reject(c.line, LineIssue{"Patient.telecom.where(system='email')", "a patient with this email is already registered"})
			continue
		}
		mrnLine[mrn], emailLine[email] = c.line, c.line
		if exists {
			if sameRecord(cur, p) {
				b.Counts.Unchanged++
				continue
			}
			p.ID, p.MRN, p.BillingAccountID, p.CreatedAt = cur.ID, cur.MRN, cur.BillingAccountID, cur.CreatedAt
			p.Version, p.UpdatedAt = cur.Version+1, now
			b.Updated = append(b.Updated, Change{Patient: p, Event: Event{ID: uuid.NewString(), Type: EventUpdated, Patient: p, OccurredAt: now}})
			continue
		}
		p.ID = uuid.NewSHA1(importNamespace, []byte(job.ID+"/"+strconv.Itoa(c.line))).String()
		p.Version, p.CreatedAt, p.UpdatedAt = 1, now, now
		b.Created = append(b.Created, Change{Patient: p, Event: Event{ID: uuid.NewString(), Type: EventCreated, Patient: p, OccurredAt: now}})
	}
	b.Counts.Imported, b.Counts.Updated, b.Counts.Rejected = len(b.Created), len(b.Updated), len(b.Rejected)
	if ids := changedIDs(b); len(ids) > 0 {
		b.Audit = job.Actor.entry(ActionImport, now, ids...)
		b.Audit.Detail = "import " + job.ID
	}
	return b, nil
}

// decoded is one line read by the decoder.
type decoded struct {
	draft  Draft
	issues []LineIssue
}

// decodeAll reads lines (those not too long) on every core: decoding is
// most of an import's own work, and the database waits for it.
func (im *Importer) decodeAll(lines []ImportLine) []decoded {
	out := make([]decoded, len(lines))
	const chunk = 64
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for from := 0; from < len(lines); from += chunk {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			for i := from; i < min(from+chunk, len(lines)); i++ {
				if len(lines[i].Body) <= MaxImportLineBytes {
					out[i].draft, out[i].issues = im.dec.Decode(lines[i].Body)
				}
			}
		})
	}
	wg.Wait()
	return out
}

// sameRecord reports whether next says what cur holds.
func sameRecord(cur, next Patient) bool {
	return cur.Name == next.Name && cur.Family == next.Family && strings.Join(cur.Given, "\x00") == strings.Join(next.Given, "\x00") &&
		cur.Email == next.Email && cur.Address == next.Address && cur.Phone == next.Phone && cur.Gender == next.Gender &&
		cur.DateOfBirth.Equal(next.DateOfBirth) && strings.EqualFold(cur.MRN, next.MRN) &&
		bytes.Equal(cur.More.Resource, next.More.Resource)
}

func changedIDs(b ImportBatch) []string {
	ids := make([]string, 0, len(b.Created)+len(b.Updated))
	for _, c := range b.Created {
		ids = append(ids, c.Patient.ID)
	}
	for _, c := range b.Updated {
		ids = append(ids, c.Patient.ID)
	}
	return ids
}

func (im *Importer) clock() time.Time { return im.now().UTC().Truncate(time.Microsecond) }
