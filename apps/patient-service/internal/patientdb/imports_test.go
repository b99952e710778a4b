package patientdb_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/apps/patient-service/internal/fhirapi"
	"github.com/pms-dapr/pms/apps/patient-service/internal/patient"
	"github.com/pms-dapr/pms/apps/patient-service/internal/patientdb"
)

const importMRNSystem = "https://hospital.example.org/fhir/sid/mrn"

// importLine is one FHIR Patient of an import file.
func importLine(mrn, family, email, birthDate, address string) string {
	return fmt.Sprintf(`{"resourceType":"Patient","identifier":[{"system":%q,"value":%q}],`+
		`"name":[{"family":%q,"given":["Ada"]}],"telecom":[{"system":"email","value":%q}],"birthDate":%q,"address":[{"text":%q}]}`,
		importMRNSystem, mrn, family, email, birthDate, address)
}

// runImport submits body as admin and runs the importer until the job is
// done.
func runImport(t *testing.T, store *patientdb.Store, body string) patient.ImportJob {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	woken := 0
	im := patient.NewImporter(store, fhirapi.Decoder{MRNSystem: importMRNSystem}, nil, func() { woken++ }, slog.New(slog.DiscardHandler))
	admin := patient.Actor{UserID: "admin-1", Role: patient.RoleAdmin, RequestID: "req-import"}
	job, err := im.Submit(ctx, admin, strings.NewReader(body))
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- im.Run(ctx, 10*time.Millisecond) }()
	require.Eventually(t, func() bool {
		j, err := im.Status(ctx, admin, job.ID)
		require.NoError(t, err)
		job = j
		return j.Done()
	}, 20*time.Second, 20*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	return job
}

func TestImportReportsBadLinesImportsTheRestAndChangesNothingTwice(t *testing.T) {
	pool := template.Pool(t)
	store := patientdb.New(pool)
	ctx := context.Background()
	create(t, store, "taken@example.com")

	lines := []string{
		importLine("IMP-1", "Lovelace", "ada1@example.com", "1985-12-10", "1 Main St"), // 1
		`{"resourceType":"Patient",`, // 2: not JSON
		importLine("IMP-2", "Byron", "ada2@example.com", "1990-01-02", "2 Main St"), // 3
		"", // 4: blank, skipped
		importLine("IMP-3", "King", "ada3@example.com", "2999-01-01", "3 Main St"),                                                                                        // 5: born in the future
		importLine("IMP-1", "Other", "other@example.com", "1970-01-01", "4 Main St"),                                                                                      // 6: MRN of line 1
		`{"resourceType":"Patient","name":[{"family":"NoMRN"}],"telecom":[{"system":"email","value":"n@example.com"}],"birthDate":"1980-01-01","address":[{"text":"x"}]}`, // 7
		importLine("IMP-4", "Taken", "TAKEN@example.com", "1980-01-01", "5 Main St"),                                                                                      // 8: email of another patient
		importLine("IMP-5", "Fifth", "ada5@example.com", "1975-05-05", "6 Main St"),                                                                                       // 9
	}
	file := strings.Join(lines, "\n") + "\n"

	job := runImport(t, store, file)
	assert.Equal(t, 8, job.Lines, "blank lines are not patients")
	assert.Equal(t, patient.ImportCounts{Imported: 3, Rejected: 5}, job.Counts)
	assert.Zero(t, job.Pending)

	errs, err := store.ImportErrors(ctx, job.ID, 0, 100)
	require.NoError(t, err)
	byLine := map[int]string{}
	for _, e := range errs {
		require.NotEmpty(t, e.Issues)
		byLine[e.Line] = e.Issues[0].Expression + " " + e.Issues[0].Message
	}
	assert.Equal(t, []int{2, 5, 6, 7, 8}, keys(byLine))
	assert.Contains(t, byLine[5], "Patient.birthDate")
	assert.Contains(t, byLine[6], "line 1 of this import")
	assert.Contains(t, byLine[7], "Patient.identifier")
	assert.Contains(t, byLine[8], "email")
	assert.Equal(t, 0, count(t, pool, `SELECT count(*) FROM import_lines`), "imported lines are not kept")

	var id string
	require.NoError(t, pool.QueryRow(ctx, `SELECT id FROM patients WHERE mrn = 'IMP-2'`).Scan(&id))
	p, err := store.Get(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, "Ada Byron", p.Name)
	assert.Equal(t, "Byron", p.Family)
	assert.Equal(t, "2 Main St", p.Address)
	assert.Empty(t, p.BillingAccountID, "the reconciler opens accounts")
	assert.Equal(t, 1, count(t, pool, `SELECT count(*) FROM patient_versions WHERE patient_id = $1`, id))
	// The import's events go out as one batch (PatientEventBatch), one
	// event per imported patient in it.
	const batched = `SELECT count(*) FROM outbox, jsonb_array_elements(payload::jsonb->'events') e
		WHERE event_type = 'pms.patient.v1.PatientEventBatch' AND e->>'type' = 'PATIENT_CREATED'`
	assert.Equal(t, 3, count(t, pool, batched))
	assert.Equal(t, 1, count(t, pool, batched+` AND e->>'patientId' = $1`, id))
	assert.Equal(t, 1, count(t, pool, `SELECT count(*) FROM outbox WHERE event_type IS NOT NULL`))
	assert.Equal(t, 1, count(t, pool, `SELECT count(*) FROM audit_log WHERE action = 'import' AND patient_ids @> ARRAY[$1::uuid]`, id))
	missing, err := store.MissingBillingAccount(ctx, 10)
	require.NoError(t, err)
	assert.Len(t, missing, 4, "the three imported and the one created before")

	events := count(t, pool, `SELECT count(*) FROM outbox`)
	versions := count(t, pool, `SELECT count(*) FROM patient_versions`)
	again := runImport(t, store, file)
	assert.Equal(t, patient.ImportCounts{Unchanged: 3, Rejected: 5}, again.Counts, "a second run changes nothing")
	assert.Equal(t, events, count(t, pool, `SELECT count(*) FROM outbox`))
	assert.Equal(t, versions, count(t, pool, `SELECT count(*) FROM patient_versions`))

	changed := runImport(t, store, importLine("imp-2", "Byron", "ada2@example.com", "1990-01-02", "7 New Road")+"\n")
	assert.Equal(t, patient.ImportCounts{Updated: 1}, changed.Counts, "the MRN finds the patient whatever its case")
	p, err = store.Get(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, "7 New Road", p.Address)
	assert.Equal(t, int64(2), p.Version)
	assert.Equal(t, "IMP-2", p.MRN, "the stored MRN is kept")
	assert.Equal(t, 2, count(t, pool, `SELECT count(*) FROM patient_versions WHERE patient_id = $1`, id))
}

func TestImportOfNothingIsDoneAtOnceAndOnlyAdminsImport(t *testing.T) {
	store := patientdb.New(template.Pool(t))
	ctx := context.Background()
	im := patient.NewImporter(store, fhirapi.Decoder{MRNSystem: importMRNSystem}, nil, nil, slog.New(slog.DiscardHandler))
	job, err := im.Submit(ctx, patient.Actor{UserID: "a", Role: patient.RoleAdmin}, strings.NewReader("\n\n"))
	require.NoError(t, err)
	assert.True(t, job.Done())
	assert.Zero(t, job.Lines)

	_, err = im.Submit(ctx, patient.Actor{UserID: "c", Role: "clinician"}, strings.NewReader(importLine("X-1", "A", "a@example.com", "1980-01-01", "x")))
	assert.ErrorIs(t, err, patient.ErrForbidden)
	_, err = im.Status(ctx, patient.Actor{UserID: "c", Role: "clinician"}, job.ID)
	assert.ErrorIs(t, err, patient.ErrForbidden)
	_, err = im.Status(ctx, patient.Actor{UserID: "a", Role: patient.RoleAdmin}, "6f1c4a50-0000-4000-8000-000000000001")
	assert.ErrorIs(t, err, patient.ErrNotFound)
}

func keys(m map[int]string) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// importBilling opens accounts named after their patients, or fails.
type importBilling struct{ down bool }

func (b importBilling) CreateAccount(context.Context, patient.Patient) (string, error) {
	return "", errors.New("not used by an import")
}

func (b importBilling) CreateAccounts(_ context.Context, ids []string) ([]string, error) {
	if b.down {
		return nil, errors.New("billing unavailable")
	}
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = "acct-" + id
	}
	return out, nil
}

func TestImportOpensAccountsWithTheBatchOrLeavesThemToTheReconciler(t *testing.T) {
	for _, down := range []bool{false, true} {
		t.Run(fmt.Sprintf("billing down %v", down), func(t *testing.T) {
			pool := template.Pool(t)
			store := patientdb.New(pool)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			woken := make(chan struct{}, 10)
			im := patient.NewImporter(store, fhirapi.Decoder{MRNSystem: importMRNSystem}, importBilling{down: down},
				func() { woken <- struct{}{} }, slog.New(slog.DiscardHandler))
			admin := patient.Actor{UserID: "admin-1", Role: patient.RoleAdmin}
			job, err := im.Submit(ctx, admin, strings.NewReader(importLine("ACC-1", "A", "acc1@example.com", "1980-01-01", "x")+"\n"+
				importLine("ACC-2", "B", "acc2@example.com", "1980-01-01", "y")))
			require.NoError(t, err)
			go func() { _ = im.Run(ctx, 10*time.Millisecond) }()
			require.Eventually(t, func() bool {
				j, err := im.Status(ctx, admin, job.ID)
				return err == nil && j.Done()
			}, 20*time.Second, 20*time.Millisecond)
			missing, err := store.MissingBillingAccount(ctx, 10)
			require.NoError(t, err)
			if down {
				assert.Len(t, missing, 2, "stored without accounts")
				assert.Len(t, woken, 1, "the reconciler is woken")
				return
			}
			assert.Empty(t, missing)
			assert.Empty(t, woken)
			var id, acct string
			require.NoError(t, pool.QueryRow(ctx, `SELECT id, billing_account_id FROM patients WHERE mrn = 'ACC-2'`).Scan(&id, &acct))
			assert.Equal(t, "acct-"+id, acct)
		})
	}
}

// meetingBilling opens accounts as importBilling does, but each call first
// waits (up to a few seconds) for as many calls as there are workers to
// have come, and counts the calls that waited in vain.
type meetingBilling struct {
	importBilling
	arrived chan struct{}
	all     chan struct{}
	once    sync.Once
	alone   atomic.Int32
}

func (b *meetingBilling) CreateAccounts(ctx context.Context, ids []string) ([]string, error) {
	b.arrived <- struct{}{}
	if len(b.arrived) == cap(b.arrived) {
		b.once.Do(func() { close(b.all) })
	}
	select {
	case <-b.all:
	case <-time.After(5 * time.Second):
		b.alone.Add(1)
	}
	return b.importBilling.CreateAccounts(ctx, ids)
}

// Two imports run side by side: each one's batch waits in billing for the
// other's, which only a second worker brings while the first waits.
func TestImportsRunSideBySide(t *testing.T) {
	pool := template.Pool(t)
	store := patientdb.New(pool)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	billing := &meetingBilling{arrived: make(chan struct{}, patient.ImportWorkers), all: make(chan struct{})}
	im := patient.NewImporter(store, fhirapi.Decoder{MRNSystem: importMRNSystem}, billing, nil, slog.New(slog.DiscardHandler))
	admin := patient.Actor{UserID: "admin-1", Role: patient.RoleAdmin}
	var jobs []patient.ImportJob
	for i := range patient.ImportWorkers {
		job, err := im.Submit(ctx, admin, strings.NewReader(importLine(fmt.Sprintf("SBS-%d", i), "A", fmt.Sprintf("sbs%d@example.com", i), "1980-01-01", "x")))
		require.NoError(t, err)
		jobs = append(jobs, job)
	}
	for range patient.ImportWorkers {
		go func() { _ = im.Run(ctx, 10*time.Millisecond) }()
	}
	require.Eventually(t, func() bool {
		for _, job := range jobs {
			if j, err := im.Status(ctx, admin, job.ID); err != nil || !j.Done() {
				return false
			}
		}
		return true
	}, 30*time.Second, 20*time.Millisecond)
	assert.Zero(t, billing.alone.Load(), "every import's batch met the other's")
	missing, err := store.MissingBillingAccount(ctx, 10)
	require.NoError(t, err)
	assert.Empty(t, missing)
}

// failingReader gives its text, then fails as a connection cut short does.
type failingReader struct{ r io.Reader }

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}

func TestImportCutShortKeepsNothing(t *testing.T) {
	pool := template.Pool(t)
	store := patientdb.New(pool)
	im := patient.NewImporter(store, fhirapi.Decoder{MRNSystem: importMRNSystem}, nil, nil, slog.New(slog.DiscardHandler))
	body := strings.Repeat(importLine("CUT-1", "A", "cut@example.com", "1980-01-01", "x")+"\n", 3)
	_, err := im.Submit(context.Background(), patient.Actor{UserID: "a", Role: patient.RoleAdmin}, &failingReader{strings.NewReader(body)})
	var unreadable *patient.UnreadableError
	require.ErrorAs(t, err, &unreadable)
	assert.Equal(t, 0, count(t, pool, `SELECT count(*) FROM import_jobs`))
	assert.Equal(t, 0, count(t, pool, `SELECT count(*) FROM import_lines`))
}

// A line the database refuses for what it holds (here a rule the import's
// checks do not know) is refused alone: the batch is imported again a
// line at a time and the rest of the file comes in.
func TestImportLineTheDatabaseRefusesIsRefusedAlone(t *testing.T) {
	c := template.Clone(t)
	owner, err := pgxpool.New(context.Background(), c.OwnerURL)
	require.NoError(t, err)
	defer owner.Close()
	_, err = owner.Exec(context.Background(), `ALTER TABLE patients ADD CONSTRAINT no_zed CHECK (family_name <> 'Zed')`)
	require.NoError(t, err)
	store := patientdb.New(c.Pool)
	job := runImport(t, store, strings.Join([]string{
		importLine("ZED-1", "Able", "zed1@example.com", "1980-01-01", "x"),
		importLine("ZED-2", "Zed", "zed2@example.com", "1980-01-01", "x"),
		importLine("ZED-3", "Baker", "zed3@example.com", "1980-01-01", "x"),
	}, "\n"))
	assert.Equal(t, patient.ImportCounts{Imported: 2, Rejected: 1}, job.Counts)
	errs, err := store.ImportErrors(context.Background(), job.ID, 0, 10)
	require.NoError(t, err)
	require.Len(t, errs, 1)
	assert.Equal(t, 2, errs[0].Line)
	assert.Contains(t, errs[0].Issues[0].Message, "constraint no_zed", "why, without the value")
	assert.Equal(t, 2, count(t, c.Pool, `SELECT count(*) FROM patients`))
}
