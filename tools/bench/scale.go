package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/pms-dapr/pms/tools/pmsrun/importparts"
	"github.com/pms-dapr/pms/tools/pmsrun/samples"
)

// The scale benchmark (make bench-scale): the registry grown by bulk
// import to each size in turn, and at each size the import's rate, a mix
// of searches, reads by id and registrations through the gateway, and the
// database's size per patient.

// scaleReport is what bench-scale.json holds.
type scaleReport struct {
	Time  time.Time   `json:"time"`
	Host  string      `json:"host"`
	Sizes []scaleSize `json:"sizes"`
}

type scaleSize struct {
	Patients int `json:"patients"`
	// ImportPerSecond counts the patients of this step over the time from
	// the first upload until every one is stored with its billing account
	// and counted by analytics.
	ImportPerSecond   float64  `json:"import_per_second"`
	Searches          []result `json:"searches"`
	Mix               result   `json:"search_mix"`
	MixAt100          result   `json:"search_mix_at_100_per_second"`
	Reads             result   `json:"reads_by_id"`
	Registrations     result   `json:"registrations"`
	DBBytesPerPatient float64  `json:"database_bytes_per_patient"`
	// BackupSeconds is a full pgBackRest backup of the whole cluster (every
	// app's database), compressed and encrypted as the restore runbook's;
	// RestoreSeconds restores it into a new cluster and starts that until
	// it accepts connections out of recovery.
	BackupSeconds  float64 `json:"full_backup_seconds"`
	RestoreSeconds float64 `json:"restore_seconds"`
}

const scaleMRNSystem = "http://pms.example.org/fhir/sid/mrn"

// scaleSizes runs the scale benchmark at the sizes list names.
func scaleSizes(list, outDir string) error {
	var sizes []int
	for _, f := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fmt.Errorf("-scale: %q is not a number of patients", f)
		}
		sizes = append(sizes, n)
	}
	return runScale(sizes, outDir)
}

func runScale(sizes []int, outDir string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Hour)
	defer cancel()
	b := &bench{ctx: ctx, p: full, rep: report{Time: time.Now().UTC(), Host: hostCPUs()}, backups: true}
	defer b.stop()
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	if err := b.start(outDir); err != nil {
		return err
	}
	o := samples.Options{Seed: 1, MRNPrefix: "SCALE", MRNSystem: scaleMRNSystem}
	rep := scaleReport{Time: b.rep.Time, Host: b.rep.Host}
	have, registered := 0, 0
	for _, n := range sizes {
		if n <= have {
			return fmt.Errorf("sizes must grow: %d after %d", n, have)
		}
		s := scaleSize{Patients: n}
		rate, err := b.importUpTo(o, have, n, registered)
		if err != nil {
			return err
		}
		s.ImportPerSecond, have = rate, n
		if err := b.relogin(); err != nil {
			return err
		}
		if s.Searches, s.Mix, s.MixAt100, err = b.searchMix(o, n); err != nil {
			return err
		}
		ids, err := b.someIDs(200)
		if err != nil {
			return err
		}
		s.Reads = b.phase(saturate(ctx, fmt.Sprintf("%d: read by id", n), 32, 10*time.Second, http.StatusOK, read(b.gateway, "/patients/", ids)))
		s.Registrations = b.phase(saturate(ctx, fmt.Sprintf("%d: register", n), 32, 10*time.Second, http.StatusCreated, register(b.gateway)))
		registered += s.Registrations.OK
		if s.DBBytesPerPatient, err = b.bytesPerPatient(n + registered); err != nil {
			return err
		}
		if s.BackupSeconds, s.RestoreSeconds, err = b.backupAndRestore(n + registered); err != nil {
			return err
		}
		rep.Sizes = append(rep.Sizes, s)
	}
	printScale(rep)
	raw, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(outDir, "bench-scale.json")
	fmt.Println("bench: wrote", path)
	return os.WriteFile(path, raw, 0o644)
}

func hostCPUs() string { return fmt.Sprintf("%d CPUs", runtime.NumCPU()) }

// relogin takes a fresh access token (they last 15 minutes).
func (b *bench) relogin() error {
	token, err := loginAdmin(b.ctx, b.sys)
	if err != nil {
		return err
	}
	b.gateway.headers["Authorization"] = "Bearer " + token
	return nil
}

// importsInFlight is how many import requests the benchmark keeps
// running at once: patient-service runs two side by side
// (patient.ImportWorkers), and its synthetic patients never share an MRN
// or an email, so the order of parts does not matter.
const importsInFlight = 2

// importUpTo imports patients from+1 to to through $import, at most
// 100,000 a request with two running at once (parts evened out as
// pmsrun import's), and waits until each is stored, has
// its billing account and is counted by analytics (which also counts the
// registrations made so far).
func (b *bench) importUpTo(o samples.Options, from, to, registered int) (float64, error) {
	start := time.Now()
	type part struct {
		from, to int
		status   string
	}
	var running []part
	wait := func() error {
		p := running[0]
		running = running[1:]
		if err := b.waitImport(p.status); err != nil {
			return err
		}
		fmt.Printf("bench: imported patients %d to %d (%.0f s so far)\n", p.from, p.to, time.Since(start).Seconds())
		return nil
	}
	size := importparts.Size(to-from, 100_000, importsInFlight)
	for first := from + 1; first <= to; first += size {
		if err := b.relogin(); err != nil {
			return 0, err
		}
		o.From, o.To = first, min(first+size-1, to)
		var body bytes.Buffer
		if err := samples.Write(&body, o); err != nil {
			return 0, err
		}
		status, err := b.submitImport(body.Bytes())
		if err != nil {
			return 0, fmt.Errorf("import of %d to %d: %w", o.From, o.To, err)
		}
		running = append(running, part{o.From, o.To, status})
		if len(running) == importsInFlight {
			if err := wait(); err != nil {
				return 0, err
			}
		}
	}
	for len(running) > 0 {
		if err := wait(); err != nil {
			return 0, err
		}
	}
	if err := b.waitComplete(to+registered, 15*time.Minute); err != nil {
		return 0, err
	}
	rate := float64(to-from) / time.Since(start).Seconds()
	fmt.Printf("bench: %d patients imported at %.0f/s, with their accounts and analytics complete\n", to-from, rate)
	return rate, nil
}

// submitImport sends one import and returns its status URL's path.
func (b *bench) submitImport(body []byte) (string, error) {
	req, err := http.NewRequestWithContext(b.ctx, http.MethodPost, b.gateway.base+"/fhir/R4/$import", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/fhir+ndjson")
	req.Header.Set("Authorization", b.gateway.headers["Authorization"])
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	_, at, found := strings.Cut(resp.Header.Get("Content-Location"), "/fhir/R4/")
	if resp.StatusCode != http.StatusAccepted || !found {
		return "", fmt.Errorf("status %d, Content-Location %q", resp.StatusCode, resp.Header.Get("Content-Location"))
	}
	return "/fhir/R4/" + at, nil
}

// waitImport polls an import's status until its manifest comes, and
// checks that nothing was refused.
func (b *bench) waitImport(statusPath string) error {
	for b.ctx.Err() == nil {
		status, raw, err := call(b.ctx, b.gateway, http.MethodGet, statusPath, nil)
		switch {
		case err != nil:
			return err
		case status == http.StatusAccepted:
			time.Sleep(500 * time.Millisecond)
			continue
		case status != http.StatusOK:
			return fmt.Errorf("%s: status %d: %s", statusPath, status, raw)
		}
		var m struct{ Extension struct{ Rejected int } }
		if err := json.Unmarshal(raw, &m); err != nil || m.Extension.Rejected > 0 {
			return fmt.Errorf("%s: lines refused: %s", statusPath, raw)
		}
		return nil
	}
	return b.ctx.Err()
}

// waitComplete waits until every patient has its billing account and
// analytics has counted want registrations.
func (b *bench) waitComplete(want int, within time.Duration) error {
	conn, err := database(b.ctx, b.sys, "patient")
	if err != nil {
		return err
	}
	defer conn.Close(b.ctx)
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		var missing int
		if err := conn.QueryRow(b.ctx, `SELECT count(*) FROM patients WHERE billing_account_id IS NULL AND deleted_at IS NULL`).Scan(&missing); err != nil {
			return err
		}
		status, raw, err := call(b.ctx, b.gateway, http.MethodGet, "/analytics/summary", nil)
		if err != nil || status != http.StatusOK {
			return fmt.Errorf("analytics summary: status %d: %v", status, err)
		}
		var s struct{ TotalPatientsCreated int }
		if err := json.Unmarshal(raw, &s); err != nil {
			return err
		}
		if missing == 0 && s.TotalPatientsCreated >= want {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("accounts or analytics incomplete after %s", within)
}

// searchMix measures each search alone, then all of them in turn at
// saturation and at 100/s (an open loop: the latency a client sees when
// the system is not saturated).
func (b *bench) searchMix(o samples.Options, n int) ([]result, result, result, error) {
	deep, err := b.deepPage()
	if err != nil {
		return nil, result{}, result{}, err
	}
	mrn, email, phone := o.MRN(n/2+1), o.Email(n/3+1), samples.Phone(n/4+1)
	queries := []struct{ name, path string }{
		{"JSON name, common", "/patients?name=smith&limit=20"},
		{"JSON name, rare", "/patients?name=" + samples.RareFamily + "&limit=20"},
		{"JSON name, no match", "/patients?name=zzyzx&limit=20"},
		{"JSON name and birth date", "/patients?name=smith&birthDate=1980-02-03&limit=20"},
		{"JSON email", "/patients?email=" + url.QueryEscape(email)},
		{"JSON deep page", deep},
		{"FHIR name, common", "/fhir/R4/Patient?name=smi&_count=20"},
		{"FHIR family and birthdate", "/fhir/R4/Patient?family=smith&birthdate=1980&_count=20"},
		{"FHIR name:contains, rare", "/fhir/R4/Patient?name:contains=uennel&_count=20"},
		{"FHIR identifier", "/fhir/R4/Patient?identifier=" + url.QueryEscape(scaleMRNSystem+"|"+mrn)},
		{"FHIR telecom", "/fhir/R4/Patient?telecom=" + url.QueryEscape("phone|"+phone)},
	}
	var each []result
	paths := make([]string, len(queries))
	for i, q := range queries {
		paths[i] = q.path
		each = append(each, b.phase(saturate(b.ctx, fmt.Sprintf("%d: %s", n, q.name), 16, 5*time.Second, http.StatusOK, search(b.gateway, q.path))))
	}
	var next atomic.Int64
	mix := func(ctx context.Context) (int, string, error) {
		status, _, err := call(ctx, b.gateway, http.MethodGet, paths[int(next.Add(1))%len(paths)], nil)
		return status, "", err
	}
	m := b.phase(saturate(b.ctx, fmt.Sprintf("%d: the search mix", n), 16, 15*time.Second, http.StatusOK, mix))
	at100 := b.phase(atRate(b.ctx, fmt.Sprintf("%d: the search mix at 100/s", n), 100, 15*time.Second, http.StatusOK, mix))
	return each, m, at100, nil
}

// deepPage is the JSON list's page 50 pages of 100 in (or its last).
func (b *bench) deepPage() (string, error) {
	path := "/patients?limit=100"
	for range 50 {
		status, raw, err := call(b.ctx, b.gateway, http.MethodGet, path, nil)
		if err != nil || status != http.StatusOK {
			return "", fmt.Errorf("list: status %d: %v", status, err)
		}
		var page struct{ Next string }
		if err := json.Unmarshal(raw, &page); err != nil {
			return "", err
		}
		if page.Next == "" {
			break
		}
		path = page.Next
	}
	return strings.Replace(path, "limit=100", "limit=20", 1), nil
}

// someIDs are the ids of the newest patients.
func (b *bench) someIDs(n int) ([]string, error) {
	status, raw, err := call(b.ctx, b.gateway, http.MethodGet, "/patients?limit="+strconv.Itoa(min(n, 100)), nil)
	if err != nil || status != http.StatusOK {
		return nil, fmt.Errorf("list: status %d: %v", status, err)
	}
	var page struct{ Items []struct{ ID string } }
	if err := json.Unmarshal(raw, &page); err != nil {
		return nil, err
	}
	ids := make([]string, len(page.Items))
	for i, p := range page.Items {
		ids[i] = p.ID
	}
	return ids, nil
}

// backupAndRestore takes a full backup of the running system's cluster
// and restores it beside it, checking that the copy holds every patient.
func (b *bench) backupAndRestore(patients int) (float64, float64, error) {
	fmt.Printf("bench: a full backup and a restore at %d patients\n", patients)
	conn, err := database(b.ctx, b.sys, "patient")
	if err != nil {
		return 0, 0, err
	}
	var stored int64
	err = conn.QueryRow(b.ctx, `SELECT count(*) FROM patients`).Scan(&stored)
	conn.Close(b.ctx)
	if err != nil {
		return 0, 0, err
	}
	backup, err := b.sys.Postgres.Backup(b.ctx)
	if err != nil {
		return 0, 0, err
	}
	restore, rows, err := b.sys.Postgres.RestoreLatest(b.ctx, "patient", "patients")
	if err != nil {
		return 0, 0, err
	}
	if rows != stored {
		return 0, 0, fmt.Errorf("the restored cluster holds %d patients, not %d", rows, stored)
	}
	return backup.Seconds(), restore.Seconds(), nil
}

// bytesPerPatient is the patient database's size over its patients.
func (b *bench) bytesPerPatient(patients int) (float64, error) {
	conn, err := database(b.ctx, b.sys, "patient")
	if err != nil {
		return 0, err
	}
	defer conn.Close(b.ctx)
	var size int64
	if err := conn.QueryRow(b.ctx, `SELECT pg_database_size(current_database())`).Scan(&size); err != nil {
		return 0, err
	}
	return float64(size) / float64(patients), nil
}

func printScale(rep scaleReport) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "patients\timport/s\tsearch mix/s\tmix p50 ms\tmix p99 ms\tp99 at 100/s ms\tworst search p99 ms\treads/s\tread p99 ms\tregistrations/s\tKiB per patient\tbackup s\trestore s\t")
	for _, s := range rep.Sizes {
		worst := 0.0
		for _, r := range s.Searches {
			worst = max(worst, r.P99ms)
		}
		fmt.Fprintf(w, "%d\t%.0f\t%.0f\t%.1f\t%.1f\t%.1f\t%.1f\t%.0f\t%.1f\t%.0f\t%.1f\t%.1f\t%.1f\t\n", s.Patients, s.ImportPerSecond, s.Mix.PerSecond,
			s.Mix.P50ms, s.Mix.P99ms, s.MixAt100.P99ms, worst, s.Reads.PerSecond, s.Reads.P99ms, s.Registrations.PerSecond, s.DBBytesPerPatient/1024,
			s.BackupSeconds, s.RestoreSeconds)
	}
	w.Flush()
}
