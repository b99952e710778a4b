// Command bench measures the system as it ships: it starts the whole stack
// through the runner (five apps beside daprd sidecars with mTLS, Sentry, the
// dev Kafka broker and a PostgreSQL cluster with fsync on), drives it over
// HTTP from outside, and prints one table, writes the figures as JSON and
// draws latency and event-lag distributions as a PNG.
//
//	bench [-short] [-out DIR]
//	bench -scale 1000,100000,1000000 [-out DIR]
//
// Run it with `make bench` (after `make build`); -short runs every phase
// briefly, to check that the benchmark works, not to measure. -scale
// (`make bench-scale`) instead grows the registry by bulk import to each
// size and measures it there (scale.go).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pms-dapr/pms/tools/pmsrun/runner"
)

func main() {
	short := flag.Bool("short", false, "run every phase briefly (checks the benchmark, measures nothing)")
	out := flag.String("out", ".data/bench", "where to write bench.json and bench.png")
	scale := flag.String("scale", "", "instead, grow the registry by bulk import to each of these sizes (comma-separated) and measure it at each (bench-scale.json)")
	flag.Parse()
	var err error
	if *scale != "" {
		err = scaleSizes(*scale, *out)
	} else {
		err = run(*short, *out)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// phases are how long each measurement runs.
type phases struct {
	warm, saturate, rate, pause, settle time.Duration
	workers                             int
}

var (
	full      = phases{warm: 5 * time.Second, saturate: 20 * time.Second, rate: 20 * time.Second, pause: 15 * time.Second, settle: 10 * time.Second, workers: 64}
	shortRuns = phases{warm: time.Second, saturate: 2 * time.Second, rate: 2 * time.Second, pause: 2 * time.Second, settle: time.Second, workers: 16}
)

// report is everything bench.json holds.
type report struct {
	Time    time.Time    `json:"time"`
	Short   bool         `json:"short"`
	Host    string       `json:"host"`
	Phases  []result     `json:"phases"`
	Lags    []lag        `json:"event_lags"`
	Backlog int          `json:"outbox_backlog_after_saturation"`
	CPU     []cpuProfile `json:"cpu_by_process"`
	Costs   []cost       `json:"cost_at_saturation"`
	Pprof   []appProfile `json:"pprof"`
	Memory  struct {
		IdleMiB      float64 `json:"idle_mib"`
		AfterLoadMiB float64 `json:"after_load_mib"`
	} `json:"resident_memory"`
	AccountsAfterPause string  `json:"accounts_after_billing_pause"`
	ReadRatio          float64 `json:"read_gateway_to_direct_ratio"`
	// CPU-seconds the system (every process but the load generator) spends
	// per 1,000 answers of each saturation phase (Costs has them by
	// process).
	CPUPer1000 map[string]float64 `json:"cpu_seconds_per_1000"`
	// FHIRReadCost is a FHIR read's CPU over a JSON read's (target: 1.15
	// at most).
	FHIRReadCost float64 `json:"fhir_read_cost_over_json_read"`
	// Ledger postings (charges and payments, each with its own
	// Idempotency-Key) through the gateway: at saturation, and the p99 of
	// one at 100/s.
	PostingsPerSecond float64 `json:"postings_per_second"`
	PostingP99msAt100 float64 `json:"posting_p99_ms_at_100_per_second"`
	// What tracing every request costs registrations and reads.
	Tracing []tracingOverhead `json:"tracing_cost"`
}

// bench is one run: the system under test, the load's targets, and the
// report the phases fill in.
type bench struct {
	ctx      context.Context
	p        phases
	sys      *runner.System
	gateway  target // through the gateway, as an admin
	direct   target // straight to patient-service, past gateway and sidecars
	groups   []group
	profiles string   // where each app writes its CPU profile
	created  []string // the patients the saturated registrations created
	rep      report

	root    string
	console *os.File
	kafka   *broker
	stops   []func() // what start started, undone in reverse
	backups bool     // PostgreSQL with a pgBackRest repository (the scale benchmark)
}

func run(short bool, outDir string) error {
	p := full
	if short {
		p = shortRuns
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	b := &bench{ctx: ctx, p: p, rep: report{Time: time.Now().UTC(), Short: short, Host: fmt.Sprintf("%d CPUs", runtime.NumCPU())}}
	defer b.stop()
	if err := b.start(outDir); err != nil {
		return err
	}
	for _, phase := range []func() error{b.warmUp, b.registrations, b.reads, b.fixedRates, b.billingPaused, b.postings, b.memoryAfterLoad, b.tracingCost} {
		if err := phase(); err != nil {
			return err
		}
	}
	return b.write(outDir)
}

// stop undoes what start started, in reverse.
func (b *bench) stop() {
	for i := len(b.stops) - 1; i >= 0; i-- {
		b.stops[i]()
	}
}

// memoryAfterLoad measures the stack's memory once the load has settled.
func (b *bench) memoryAfterLoad() error {
	time.Sleep(b.p.settle)
	b.rep.Memory.AfterLoadMiB = stackMemory(b.sys)
	return nil
}

// start starts the broker and the system, untraced, and signs in.
func (b *bench) start(outDir string) error {
	var err error
	if b.root, err = os.Getwd(); err != nil {
		return err
	}
	// Every app writes a CPU profile here when signalled (ProfileOnSignal).
	if b.profiles, err = filepath.Abs(filepath.Join(outDir, "profiles")); err != nil {
		return err
	}
	if err := os.MkdirAll(b.profiles, 0o755); err != nil {
		return err
	}
	os.Setenv("PPROF_DIR", b.profiles)
	if b.console, err = os.Create(filepath.Join(outDir, "console.log")); err != nil {
		return err
	}
	b.stops = append(b.stops, func() { b.console.Close() })
	if b.kafka, err = startBroker(b.ctx, b.root); err != nil {
		return err
	}
	b.stops = append(b.stops, b.kafka.stop)
	// Costs are measured untraced first: the system as it ships samples
	// nothing unless an operator points it at a collector (tracingCost
	// measures the difference).
	return b.startSystem(false)
}

// startSystem starts the system (PostgreSQL with fsync on, mTLS between
// sidecars, every app ready to write CPU profiles; with traced, every
// request sampled by every app and sidecar and exported over OTLP to the
// runner) and signs in.
func (b *bench) startSystem(traced bool) error {
	what := "untraced"
	if traced {
		what = "every request traced"
	}
	fmt.Printf("bench: starting the system (PostgreSQL with fsync on, mTLS between sidecars, %s)\n", what)
	sys, err := runner.Start(b.ctx, runner.Options{Template: b.root, Console: b.console, DurablePostgres: true, PostgresBackups: b.backups,
		KafkaBrokers: b.kafka.addr, ProfileSidecars: true, NoTracing: !traced, NoPrometheus: true})
	if err != nil {
		return fmt.Errorf("the system did not start (run `make build` first; output in %s): %w", b.console.Name(), err)
	}
	b.sys = sys
	b.stops = append(b.stops, sys.Stop)
	b.groups = append(processGroups(sys), b.kafka.group)
	token, err := loginAdmin(b.ctx, sys)
	if err != nil {
		return err
	}
	patients := sys.App("patient-service")
	b.gateway = target{base: "http://127.0.0.1:4004", headers: map[string]string{"Authorization": "Bearer " + token}}
	b.direct = target{base: fmt.Sprintf("http://127.0.0.1:%d", patients.AppPort), headers: map[string]string{
		"Authorization": "Bearer " + token, "dapr-api-token": patients.AppAPIToken}}
	return nil
}

// phase prints a finished phase and keeps it in the report.
func (b *bench) phase(r result) result {
	fmt.Printf("bench: %-44s %8.1f/s  p50 %7.1f ms  p99 %7.1f ms  (%d ok, %d failed)\n", r.Name, r.PerSecond, r.P50ms, r.P99ms, r.OK, r.Failed)
	b.rep.Phases = append(b.rep.Phases, r)
	return r
}

// profiled runs a saturation phase, with the CPU of every process and
// each app's pprof profile, and its cost: settle waits until the work
// its requests left behind is done (nil: none), so that the database
// counters cover it.
func (b *bench) profiled(slug string, run func() result, settle func() error) (result, error) {
	before, err := readDBCounters(b.ctx, b.sys, false)
	var apps []appProfile
	r, prof := profileCPU(b.groups, func() result {
		var r result
		r, apps = profileApps(b.sys, b.profiles, slug, b.p.saturate, run)
		return r
	})
	b.rep.CPU = append(b.rep.CPU, prof)
	b.rep.Pprof = append(b.rep.Pprof, apps...)
	if err == nil && settle != nil {
		err = settle()
	}
	var after dbCounters
	if err == nil {
		after, err = readDBCounters(b.ctx, b.sys, true)
	}
	b.phase(r)
	if err != nil {
		return r, fmt.Errorf("%s: %w", r.Name, err)
	}
	b.rep.Costs = append(b.rep.Costs, newCost(slug, r, prof, before, after))
	return r, nil
}

// saturate runs one phase at saturation through the gateway.
func (b *bench) saturate(name string, status int, req request) func() result {
	return func() result { return saturate(b.ctx, name, b.p.workers, b.p.saturate, status, req) }
}

// warmUp registers patients for a while, then measures idle memory.
func (b *bench) warmUp() error {
	fmt.Println("bench: warming up")
	warm := saturate(b.ctx, "warm-up", 8, b.p.warm, http.StatusCreated, register(b.gateway))
	if warm.OK == 0 {
		return fmt.Errorf("warm-up: no registration succeeded: %v", warm.Statuses)
	}
	time.Sleep(b.p.settle)
	b.rep.Memory.IdleMiB = stackMemory(b.sys)
	return nil
}

// registrations saturates registration through the gateway (profiled,
// with the outbox backlog and event lag it leaves) and straight to
// patient-service.
func (b *bench) registrations() error {
	var satLag lag
	var sat result
	sat, err := b.profiled("register", func() result {
		sat = b.saturate("register, gateway, saturation", http.StatusCreated, register(b.gateway))()
		return sat
	}, func() error {
		var err error
		if b.rep.Backlog, err = outboxBacklog(b.ctx, b.sys); err != nil {
			return err
		}
		if satLag, err = eventLag(b.ctx, b.sys, "saturation", sat.created); err != nil {
			return err
		}
		// Billing's outbox too: a registration's account is opened there.
		return outboxDrained(b.ctx, b.sys, "billing", 2*time.Minute)
	})
	if err != nil {
		return err
	}
	b.rep.Lags = append(b.rep.Lags, satLag)
	b.created = sat.created
	direct := b.phase(saturate(b.ctx, "register, straight to patient-service", b.p.workers, b.p.saturate, http.StatusCreated, register(b.direct)))
	// The reads start once those registrations' events are stored, so no
	// read phase shares the machine with the tail of the registrations.
	if _, err := eventLag(b.ctx, b.sys, "straight to patient-service", direct.created); err != nil {
		return err
	}
	time.Sleep(b.p.settle)
	return nil
}

// reads saturates reads by id and searches by name, through each API
// (profiled), and reads straight to patient-service.
func (b *bench) reads() error {
	ids := b.created
	readGW, err := b.profiled("read", b.saturate("read by id, gateway, saturation", http.StatusOK, read(b.gateway, "/patients/", ids)), nil)
	if err != nil {
		return err
	}
	for _, ph := range []struct {
		slug, name string
		req        request
	}{
		{"fhir-read", "FHIR read by id, gateway, saturation", read(b.gateway, "/fhir/R4/Patient/", ids)},
		// A page of 20 patients found by name, through each API.
		{"search", "search by name, 20 a page, gateway", search(b.gateway, "/patients?name=bench&limit=20")},
		{"fhir-search", "FHIR search by name, 20 a page, gateway", search(b.gateway, "/fhir/R4/Patient?name=bench&_count=20")},
	} {
		if _, err := b.profiled(ph.slug, b.saturate(ph.name, http.StatusOK, ph.req), nil); err != nil {
			return err
		}
	}
	readDirect := b.phase(saturate(b.ctx, "read by id, straight to patient-service", b.p.workers, b.p.saturate, http.StatusOK, read(b.direct, "/patients/", ids)))
	if readDirect.PerSecond > 0 {
		b.rep.ReadRatio = readGW.PerSecond / readDirect.PerSecond
	}
	return nil
}

// fixedRates registers at 100/s and 300/s, with the event lag of each.
func (b *bench) fixedRates() error {
	var lags []lag
	for _, rate := range []int{100, 300} {
		r := b.phase(atRate(b.ctx, fmt.Sprintf("register, gateway, %d/s", rate), rate, b.p.rate, http.StatusCreated, register(b.gateway)))
		l, err := eventLag(b.ctx, b.sys, fmt.Sprintf("%d/s", rate), r.created)
		if err != nil {
			return err
		}
		lags = append(lags, l)
	}
	// In the order bench.json has always had: the fixed rates, then saturation.
	b.rep.Lags = append(lags, b.rep.Lags...)
	return nil
}

// billingPaused registers at 100/s while billing-service is stopped
// (SIGSTOP), then measures how soon every account is opened after.
func (b *bench) billingPaused() error {
	pid := b.sys.App("billing-service").AppPID()
	if pid == 0 {
		return errors.New("billing-service is not running")
	}
	fmt.Printf("bench: pausing billing-service (SIGSTOP %d)\n", pid)
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		return err
	}
	paused := b.phase(atRate(b.ctx, "register, gateway, 100/s, billing paused", 100, b.p.pause, http.StatusCreated, register(b.gateway)))
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		return err
	}
	took, err := accountsAppear(b.ctx, b.sys, paused.created, time.Minute)
	if err != nil {
		return err
	}
	b.rep.AccountsAfterPause = fmt.Sprintf("all %d within %s", len(paused.created), took.Round(100*time.Millisecond))
	return nil
}

// postings posts charges and payments to the accounts of the registered
// patients (many accounts, so the row lock of one account is not what is
// measured), at saturation (profiled) and at 100/s; last, because their
// events keep analytics busy for a while after. Then it totals the costs.
func (b *bench) postings() error {
	accounts, err := billingAccounts(b.ctx, b.sys, 500)
	if err != nil {
		return err
	}
	sat, err := b.profiled("posting", b.saturate("post charge or payment, gateway, saturation", http.StatusCreated, posting(b.gateway, accounts)), func() error {
		// The saturation's events are published before the fixed rate starts.
		return outboxDrained(b.ctx, b.sys, "billing", 2*time.Minute)
	})
	if err != nil {
		return err
	}
	// Each phase's total, by the names bench.json has always used.
	b.rep.CPUPer1000 = map[string]float64{}
	for _, c := range b.rep.Costs {
		b.rep.CPUPer1000[strings.ReplaceAll(c.Phase, "-", " ")] = c.CPUPer1000
	}
	if b.rep.CPUPer1000["read"] > 0 {
		b.rep.FHIRReadCost = b.rep.CPUPer1000["fhir read"] / b.rep.CPUPer1000["read"]
	}
	time.Sleep(b.p.settle)
	post100 := b.phase(atRate(b.ctx, "post charge or payment, gateway, 100/s", 100, b.p.rate, http.StatusCreated, posting(b.gateway, accounts)))
	b.rep.PostingsPerSecond, b.rep.PostingP99msAt100 = sat.PerSecond, post100.P99ms
	return nil
}

// write prints the table, writes bench.json and bench.png, and fails a
// full run whose FHIR reads cost more than the target.
func (b *bench) write(outDir string) error {
	rep := b.rep
	printTable(os.Stdout, rep)
	raw, _ := json.MarshalIndent(rep, "", "  ")
	if err := os.WriteFile(filepath.Join(outDir, "bench.json"), append(raw, '\n'), 0o644); err != nil {
		return err
	}
	if err := drawChart(filepath.Join(outDir, "bench.png"), rep); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	fmt.Printf("bench: figures in %s, chart in %s\n", filepath.Join(outDir, "bench.json"), filepath.Join(outDir, "bench.png"))
	if !rep.Short && rep.FHIRReadCost > maxFHIRReadCost {
		return fmt.Errorf("a FHIR read costs %.0f%% more CPU than a JSON read; the target is at most %.0f%%", (rep.FHIRReadCost-1)*100, (maxFHIRReadCost-1)*100)
	}
	return nil
}

func loginAdmin(ctx context.Context, sys *runner.System) (string, error) {
	body, _ := json.Marshal(map[string]string{"email": sys.AdminEmail, "password": sys.AdminPassword})
	status, raw, err := call(ctx, target{base: "http://127.0.0.1:4004"}, http.MethodPost, "/auth/login", body)
	if err != nil || status != http.StatusOK {
		return "", fmt.Errorf("admin login: status %d: %v %s", status, err, raw)
	}
	var s struct {
		AccessToken string `json:"accessToken"`
	}
	if err := json.Unmarshal(raw, &s); err != nil || s.AccessToken == "" {
		return "", fmt.Errorf("admin login: no access token in %s", raw)
	}
	return s.AccessToken, nil
}

// database connects as the cluster's admin to one app database.
func database(ctx context.Context, sys *runner.System, name string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(sys.PostgresURL)
	if err != nil {
		return nil, err
	}
	cfg.Database = name
	return pgx.ConnectConfig(ctx, cfg)
}

func outboxBacklog(ctx context.Context, sys *runner.System) (int, error) {
	conn, err := database(ctx, sys, "patient")
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	var n int
	err = conn.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE sent_at IS NULL`).Scan(&n)
	return n, err
}

// outboxDrained waits until database db's outbox has nothing unsent.
func outboxDrained(ctx context.Context, sys *runner.System, db string, limit time.Duration) error {
	conn, err := database(ctx, sys, db)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for start := time.Now(); ; time.Sleep(200 * time.Millisecond) {
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE sent_at IS NULL`).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if time.Since(start) > limit {
			return fmt.Errorf("%s: %d events still unsent after %s", db, n, limit)
		}
	}
}

// billingAccounts returns up to limit billing account ids.
func billingAccounts(ctx context.Context, sys *runner.System, limit int) ([]string, error) {
	conn, err := database(ctx, sys, "billing")
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	rows, _ := conn.Query(ctx, `SELECT id::text FROM billing_accounts LIMIT $1`, limit)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err == nil && len(ids) == 0 {
		err = errors.New("no billing account to post to")
	}
	return ids, err
}

// accountsAppear waits until every patient in ids has a billing account.
func accountsAppear(ctx context.Context, sys *runner.System, ids []string, limit time.Duration) (time.Duration, error) {
	conn, err := database(ctx, sys, "patient")
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	start := time.Now()
	for {
		var missing int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM patients WHERE id = ANY($1::uuid[]) AND billing_account_id IS NULL`, ids).Scan(&missing); err != nil {
			return 0, err
		}
		if missing == 0 {
			return time.Since(start), nil
		}
		if time.Since(start) > limit {
			return 0, fmt.Errorf("%d of %d patients registered while billing was paused still have no account after %s", missing, len(ids), limit)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func printTable(w io.Writer, rep report) {
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tper second\tp50 ms\tp99 ms\tok\tfailed\t")
	for _, r := range rep.Phases {
		fmt.Fprintf(tw, "%s\t%.0f\t%.1f\t%.1f\t%d\t%d\t\n", r.Name, r.PerSecond, r.P50ms, r.P99ms, r.OK, r.Failed)
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "event lag (registration → stored by analytics)\tp50 ms\tp99 ms\tevents\t")
	for _, l := range rep.Lags {
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%d\t\n", l.Name, l.P50ms, l.P99ms, l.Events)
	}
	tw.Flush()
	fmt.Fprintln(w)
	for _, prof := range rep.CPU {
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "CPU during %q\tcores\tshare\t\n", prof.Phase)
		for _, g := range prof.Groups {
			if g.Cores >= 0.01 {
				fmt.Fprintf(tw, "%s\t%.2f\t%.0f%%\t\n", g.Name, g.Cores, g.Share*100)
			}
		}
		tw.Flush()
		fmt.Fprintln(w)
	}
	for _, p := range rep.Pprof {
		if p.App != "api-gateway" && p.App != "patient-service" {
			continue
		}
		fmt.Fprintf(w, "pprof %s (%s):\n", p.App, filepath.Base(p.File))
		for _, l := range p.Top[:min(len(p.Top), 9)] {
			fmt.Fprintln(w, "  "+l)
		}
		fmt.Fprintln(w)
	}
	printCosts(w, rep.Costs)
	fmt.Fprintf(w, "reads, gateway / straight to the app:      %.0f%%\n", rep.ReadRatio*100)
	for _, k := range []string{"register", "read", "fhir read", "search", "fhir search", "posting"} {
		fmt.Fprintf(w, "CPU-seconds per 1,000 %-12s %.2f\n", k+":", rep.CPUPer1000[k])
	}
	fmt.Fprintf(w, "a FHIR read costs, over a JSON read:       %+.0f%% (target: at most +%.0f%%)\n", (rep.FHIRReadCost-1)*100, (maxFHIRReadCost-1)*100)
	for _, t := range rep.Tracing {
		fmt.Fprintf(w, "tracing every %-9s CPU-seconds per 1,000 %.2f untraced, %.2f traced: %+.0f%%\n", t.Phase+":", t.UntracedCPUPer1000, t.TracedCPUPer1000, t.Overhead*100)
	}
	fmt.Fprintf(w, "ledger postings, gateway, saturation:      %.0f/s; p99 at 100/s %.1f ms\n", rep.PostingsPerSecond, rep.PostingP99msAt100)
	fmt.Fprintf(w, "outbox backlog right after saturation:     %d events\n", rep.Backlog)
	fmt.Fprintf(w, "billing accounts after the pause:          %s\n", rep.AccountsAfterPause)
	fmt.Fprintf(w, "memory of the stack (PSS), idle / after load: %.0f / %.0f MiB\n", rep.Memory.IdleMiB, rep.Memory.AfterLoadMiB)
	fmt.Fprintf(w, "host: %s; short run: %t\n", rep.Host, rep.Short)
}

// maxFHIRReadCost is the most a FHIR read may cost over a JSON read of the
// same patient (docs/performance.md).
const maxFHIRReadCost = 1.15
