package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/pms-dapr/pms/tools/pmsrun/runner"
)

// cost is what one saturation phase cost the system per request: the CPU
// of every process the system runs (the database and the broker
// included, the load generator not), per process too, and the database's
// commits and WAL.
type cost struct {
	Phase string `json:"phase"`
	OK    int    `json:"ok"`
	// CPU-seconds per 1,000 successful requests, of the whole system and
	// by process.
	CPUPer1000        float64            `json:"cpu_seconds_per_1000"`
	ProcessCPUPer1000 map[string]float64 `json:"cpu_seconds_per_1000_by_process"`
	// Commits (every database's pg_stat_database.xact_commit) and WAL bytes
	// (pg_stat_wal) per successful request, counted until the request's
	// work after the answer (events, billing accounts) is done.
	CommitsPerRequest  float64 `json:"commits_per_request"`
	WALBytesPerRequest float64 `json:"wal_bytes_per_request"`
}

// dbCounters are the cluster-wide counters a cost is measured with.
type dbCounters struct{ commits, walBytes int64 }

// readDBCounters reads them as the cluster's admin; with flush, after
// waiting out PostgreSQL's statistics flush interval (a backend publishes
// its counts at most once a second), as at the end of a phase.
func readDBCounters(ctx context.Context, sys *runner.System, flush bool) (dbCounters, error) {
	if flush {
		time.Sleep(1500 * time.Millisecond)
	}
	conn, err := database(ctx, sys, "postgres")
	if err != nil {
		return dbCounters{}, err
	}
	defer conn.Close(ctx)
	var c dbCounters
	err = conn.QueryRow(ctx, `SELECT (SELECT sum(xact_commit)::bigint FROM pg_stat_database),
		(SELECT wal_bytes::bigint FROM pg_stat_wal)`).Scan(&c.commits, &c.walBytes)
	return c, err
}

// newCost is a phase's cost (phase: a short name) from its result, its CPU profile and the
// database counters before and after. The admin connection that reads the
// counters commits a transaction of its own, which is taken off.
func newCost(phase string, r result, prof cpuProfile, before, after dbCounters) cost {
	c := cost{Phase: phase, OK: r.OK, ProcessCPUPer1000: map[string]float64{}}
	if r.OK == 0 || r.PerSecond == 0 {
		return c
	}
	for _, g := range prof.Groups {
		if g.Name == loadGroup {
			continue
		}
		per := g.Cores / r.PerSecond * 1000
		c.ProcessCPUPer1000[g.Name] = per
		c.CPUPer1000 += per
	}
	c.CommitsPerRequest = float64(after.commits-before.commits-1) / float64(r.OK)
	c.WALBytesPerRequest = float64(after.walBytes-before.walBytes) / float64(r.OK)
	return c
}

// printCosts writes one column per phase: the system's CPU per 1,000
// requests by process, the total, and commits and WAL per request.
func printCosts(w io.Writer, costs []cost) {
	if len(costs) == 0 {
		return
	}
	names := map[string]float64{}
	for _, c := range costs {
		for n, v := range c.ProcessCPUPer1000 {
			names[n] += v
		}
	}
	rows := make([]string, 0, len(names))
	for n := range names {
		rows = append(rows, n)
	}
	sort.Slice(rows, func(i, j int) bool { return names[rows[i]] > names[rows[j]] })
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "cost at saturation, CPU-seconds per 1,000 answers\t")
	for _, c := range costs {
		fmt.Fprintf(tw, "%s\t", c.Phase)
	}
	fmt.Fprintln(tw)
	for _, n := range rows {
		fmt.Fprintf(tw, "%s\t", n)
		for _, c := range costs {
			fmt.Fprintf(tw, "%.2f\t", c.ProcessCPUPer1000[n])
		}
		fmt.Fprintln(tw)
	}
	line := func(label, format string, v func(cost) float64) {
		fmt.Fprintf(tw, "%s\t", label)
		for _, c := range costs {
			fmt.Fprintf(tw, format+"\t", v(c))
		}
		fmt.Fprintln(tw)
	}
	line("whole system", "%.2f", func(c cost) float64 { return c.CPUPer1000 })
	line("database commits per request", "%.2f", func(c cost) float64 { return c.CommitsPerRequest })
	line("WAL KiB per request", "%.2f", func(c cost) float64 { return c.WALBytesPerRequest / 1024 })
	tw.Flush()
	fmt.Fprintln(w)
}

// broker is the dev Kafka broker in a process of its own (pmsrun
// kafka-broker), so that its CPU is counted with the system's rather than
// the load generator's.
type broker struct {
	cmd   *exec.Cmd
	addr  string
	group group
}

func startBroker(ctx context.Context, root string) (*broker, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(filepath.Join(root, "bin", "pmsrun"), "kafka-broker", "-listen", addr, "-advertise", addr)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("dev broker (run `make build` first): %w", err)
	}
	b := &broker{cmd: cmd, addr: addr}
	b.group = group{"kafka broker", func() []int { return []int{cmd.Process.Pid} }}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := runner.PingKafka(ctx, addr); err == nil {
			return b, nil
		} else if time.Now().After(deadline) {
			b.stop()
			return nil, err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (b *broker) stop() {
	_ = b.cmd.Process.Kill()
	_ = b.cmd.Wait()
}
