// Command bench measures the system as it ships: it starts the whole stack
// through the runner (five apps beside daprd sidecars with mTLS, Sentry, the
// dev Kafka broker and a PostgreSQL cluster with fsync on), drives it over
// HTTP from outside, and prints one table, writes the figures as JSON and
// draws latency and event-lag distributions as a PNG.
//
//	bench [-short] [-out DIR]
//
// Run it with `make bench` (after `make build`); -short runs every phase
// briefly, to check that the benchmark works, not to measure.
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
	flag.Parse()
	if err := run(*short, *out); err != nil {
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
}

func run(short bool, outDir string) error {
	p := full
	if short {
		p = shortRuns
	}
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	console, err := os.Create(filepath.Join(outDir, "console.log"))
	if err != nil {
		return err
	}
	defer console.Close()

	// Every app writes a CPU profile here when signalled (ProfileOnSignal).
	profiles, err := filepath.Abs(filepath.Join(outDir, "profiles"))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(profiles, 0o755); err != nil {
		return err
	}
	os.Setenv("PPROF_DIR", profiles)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	kafka, err := startBroker(ctx, root)
	if err != nil {
		return err
	}
	defer kafka.stop()
	fmt.Println("bench: starting the system (PostgreSQL with fsync on, mTLS between sidecars)")
	sys, err := runner.Start(ctx, runner.Options{Template: root, Console: console, DurablePostgres: true, KafkaBrokers: kafka.addr, ProfileSidecars: true})
	if err != nil {
		return fmt.Errorf("the system did not start (run `make build` first; output in %s): %w", console.Name(), err)
	}
	defer sys.Stop()

	token, err := loginAdmin(ctx, sys)
	if err != nil {
		return err
	}
	patients := sys.App("patient-service")
	gateway := target{base: "http://127.0.0.1:4004", headers: map[string]string{"Authorization": "Bearer " + token}}
	direct := target{base: fmt.Sprintf("http://127.0.0.1:%d", patients.AppPort), headers: map[string]string{
		"Authorization": "Bearer " + token, "dapr-api-token": patients.AppAPIToken}}

	rep := report{Time: time.Now().UTC(), Short: short, Host: fmt.Sprintf("%d CPUs", runtime.NumCPU())}
	fmt.Println("bench: warming up")
	warm := saturate(ctx, "warm-up", 8, p.warm, http.StatusCreated, register(gateway))
	if warm.OK == 0 {
		return fmt.Errorf("warm-up: no registration succeeded: %v", warm.Statuses)
	}
	time.Sleep(p.settle)
	rep.Memory.IdleMiB = stackMemory(sys)

	phase := func(r result) result {
		fmt.Printf("bench: %-44s %8.1f/s  p50 %7.1f ms  p99 %7.1f ms  (%d ok, %d failed)\n", r.Name, r.PerSecond, r.P50ms, r.P99ms, r.OK, r.Failed)
		rep.Phases = append(rep.Phases, r)
		return r
	}
	groups := append(processGroups(sys), kafka.group)
	var costErr error
	// profiled runs a saturation phase, with the CPU of every process and
	// each app's pprof profile, and its cost: settle waits until the work
	// its requests left behind is done (nil: none), so that the database
	// counters cover it.
	profiled := func(slug string, run func() result, settle func() error) result {
		before, err := readDBCounters(ctx, sys, false)
		var apps []appProfile
		r, prof := profileCPU(groups, func() result {
			var r result
			r, apps = profileApps(sys, profiles, slug, p.saturate, run)
			return r
		})
		rep.CPU = append(rep.CPU, prof)
		rep.Pprof = append(rep.Pprof, apps...)
		if err == nil && settle != nil {
			err = settle()
		}
		var after dbCounters
		if err == nil {
			after, err = readDBCounters(ctx, sys, true)
		}
		if err != nil {
			costErr = errors.Join(costErr, fmt.Errorf("%s: %w", r.Name, err))
		} else {
			rep.Costs = append(rep.Costs, newCost(slug, r, prof, before, after))
		}
		return phase(r)
	}
	var satLag lag
	var satGW result
	satGW = profiled("register", func() result {
		satGW = saturate(ctx, "register, gateway, saturation", p.workers, p.saturate, http.StatusCreated, register(gateway))
		return satGW
	}, func() error {
		var err error
		if rep.Backlog, err = outboxBacklog(ctx, sys); err != nil {
			return err
		}
		satLag, err = eventLag(ctx, sys, "saturation", satGW.created)
		if err != nil {
			return err
		}
		// Billing's outbox too: a registration's account is opened there.
		return outboxDrained(ctx, sys, "billing", 2*time.Minute)
	})
	if costErr != nil {
		return costErr
	}
	directReg := phase(saturate(ctx, "register, straight to patient-service", p.workers, p.saturate, http.StatusCreated, register(direct)))
	// The reads start once those registrations' events are stored, so no
	// read phase shares the machine with the tail of the registrations.
	if _, err := eventLag(ctx, sys, "straight to patient-service", directReg.created); err != nil {
		return err
	}
	time.Sleep(p.settle)
	ids := satGW.created
	readGW := profiled("read", func() result {
		return saturate(ctx, "read by id, gateway, saturation", p.workers, p.saturate, http.StatusOK, read(gateway, "/patients/", ids))
	}, nil)
	profiled("fhir-read", func() result {
		return saturate(ctx, "FHIR read by id, gateway, saturation", p.workers, p.saturate, http.StatusOK, read(gateway, "/fhir/R4/Patient/", ids))
	}, nil)
	// A page of 20 patients found by name, through each API.
	profiled("search", func() result {
		return saturate(ctx, "search by name, 20 a page, gateway", p.workers, p.saturate, http.StatusOK, search(gateway, "/patients?name=bench&limit=20"))
	}, nil)
	profiled("fhir-search", func() result {
		return saturate(ctx, "FHIR search by name, 20 a page, gateway", p.workers, p.saturate, http.StatusOK, search(gateway, "/fhir/R4/Patient?name=bench&_count=20"))
	}, nil)
	readDirect := phase(saturate(ctx, "read by id, straight to patient-service", p.workers, p.saturate, http.StatusOK, read(direct, "/patients/", ids)))
	if readDirect.PerSecond > 0 {
		rep.ReadRatio = readGW.PerSecond / readDirect.PerSecond
	}

	at100 := phase(atRate(ctx, "register, gateway, 100/s", 100, p.rate, http.StatusCreated, register(gateway)))
	lag100, err := eventLag(ctx, sys, "100/s", at100.created)
	if err != nil {
		return err
	}
	at300 := phase(atRate(ctx, "register, gateway, 300/s", 300, p.rate, http.StatusCreated, register(gateway)))
	lag300, err := eventLag(ctx, sys, "300/s", at300.created)
	if err != nil {
		return err
	}
	rep.Lags = []lag{lag100, lag300, satLag}

	billing := sys.App("billing-service")
	pid := billing.AppPID()
	if pid == 0 {
		return errors.New("billing-service is not running")
	}
	fmt.Printf("bench: pausing billing-service (SIGSTOP %d)\n", pid)
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		return err
	}
	paused := phase(atRate(ctx, "register, gateway, 100/s, billing paused", 100, p.pause, http.StatusCreated, register(gateway)))
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		return err
	}
	took, err := accountsAppear(ctx, sys, paused.created, time.Minute)
	if err != nil {
		return err
	}
	rep.AccountsAfterPause = fmt.Sprintf("all %d within %s", len(paused.created), took.Round(100*time.Millisecond))

	// Postings to the accounts of the registered patients (many accounts,
	// so the row lock of one account is not what is measured), last: their
	// events keep analytics busy for a while after.
	accounts, err := billingAccounts(ctx, sys, 500)
	if err != nil {
		return err
	}
	satPost := profiled("posting", func() result {
		return saturate(ctx, "post charge or payment, gateway, saturation", p.workers, p.saturate, http.StatusCreated, posting(gateway, accounts))
	}, func() error {
		// The saturation's events are published before the fixed rate starts.
		return outboxDrained(ctx, sys, "billing", 2*time.Minute)
	})
	if costErr != nil {
		return costErr
	}
	// Each phase's total, by the names bench.json has always used.
	rep.CPUPer1000 = map[string]float64{}
	for _, c := range rep.Costs {
		rep.CPUPer1000[strings.ReplaceAll(c.Phase, "-", " ")] = c.CPUPer1000
	}
	if rep.CPUPer1000["read"] > 0 {
		rep.FHIRReadCost = rep.CPUPer1000["fhir read"] / rep.CPUPer1000["read"]
	}
	time.Sleep(p.settle)
	post100 := phase(atRate(ctx, "post charge or payment, gateway, 100/s", 100, p.rate, http.StatusCreated, posting(gateway, accounts)))
	rep.PostingsPerSecond, rep.PostingP99msAt100 = satPost.PerSecond, post100.P99ms

	time.Sleep(p.settle)
	rep.Memory.AfterLoadMiB = stackMemory(sys)

	printTable(os.Stdout, rep)
	raw, _ := json.MarshalIndent(rep, "", "  ")
	if err := os.WriteFile(filepath.Join(outDir, "bench.json"), append(raw, '\n'), 0o644); err != nil {
		return err
	}
	if err := drawChart(filepath.Join(outDir, "bench.png"), rep); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	fmt.Printf("bench: figures in %s, chart in %s\n", filepath.Join(outDir, "bench.json"), filepath.Join(outDir, "bench.png"))
	if !short && rep.FHIRReadCost > maxFHIRReadCost {
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
	fmt.Fprintf(w, "ledger postings, gateway, saturation:      %.0f/s; p99 at 100/s %.1f ms\n", rep.PostingsPerSecond, rep.PostingP99msAt100)
	fmt.Fprintf(w, "outbox backlog right after saturation:     %d events\n", rep.Backlog)
	fmt.Fprintf(w, "billing accounts after the pause:          %s\n", rep.AccountsAfterPause)
	fmt.Fprintf(w, "memory of the stack (PSS), idle / after load: %.0f / %.0f MiB\n", rep.Memory.IdleMiB, rep.Memory.AfterLoadMiB)
	fmt.Fprintf(w, "host: %s; short run: %t\n", rep.Host, rep.Short)
}

// maxFHIRReadCost is the most a FHIR read may cost over a JSON read of the
// same patient (docs/performance.md).
const maxFHIRReadCost = 1.15
