package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pms-dapr/pms/tools/pmsrun/runner"
)

// group is a set of processes measured together.
type group struct {
	Name string
	pids func() []int
}

// processGroups are the stack's processes by role: each app, each sidecar,
// PostgreSQL with its backends, Sentry, and this process (the load
// generator, and the runner's log piping). The dev broker runs in a
// process of its own (startBroker), its group added by the caller.
func processGroups(sys *runner.System) []group {
	var gs []group
	for _, a := range sys.Apps() {
		gs = append(gs,
			group{a.ID, func() []int { return []int{a.AppPID()} }},
			group{a.ID + " daprd", func() []int { return []int{a.DaprdPID()} }})
	}
	if sys.Postgres != nil {
		gs = append(gs, group{"postgres", func() []int {
			return append([]int{sys.Postgres.PID()}, children(sys.Postgres.PID())...)
		}})
	}
	if sys.Sentry != nil {
		gs = append(gs, group{"sentry", func() []int { return []int{sys.Sentry.PID()} }})
	}
	return append(gs, group{loadGroup, func() []int { return []int{os.Getpid()} }})
}

// cpuShare is one group's CPU use during a phase.
type cpuShare struct {
	Name  string  `json:"name"`
	Cores float64 `json:"cores"` // CPU seconds per second
	Share float64 `json:"share"` // of all the CPU the groups used
}

// cpuProfile is where the CPU went during one phase.
type cpuProfile struct {
	Phase  string     `json:"phase"`
	Groups []cpuShare `json:"groups"`
}

// profileCPU runs phase and reports each group's CPU use during it, from
// the kernel's per-process accounting (utime + stime).
func profileCPU(gs []group, phase func() result) (result, cpuProfile) {
	ticks := func() []int64 {
		out := make([]int64, len(gs))
		for i, g := range gs {
			for _, pid := range g.pids() {
				out[i] += cpuTicks(pid)
			}
		}
		return out
	}
	before, start := ticks(), time.Now()
	r := phase()
	after, took := ticks(), time.Since(start)
	prof := cpuProfile{Phase: r.Name}
	var total float64
	for i, g := range gs {
		// USER_HZ is 100 on Linux.
		cores := float64(after[i]-before[i]) / 100 / took.Seconds()
		total += cores
		prof.Groups = append(prof.Groups, cpuShare{Name: g.Name, Cores: cores})
	}
	for i := range prof.Groups {
		if total > 0 {
			prof.Groups[i].Share = prof.Groups[i].Cores / total
		}
	}
	slices.SortFunc(prof.Groups, func(a, b cpuShare) int {
		switch {
		case a.Cores > b.Cores:
			return -1
		case a.Cores < b.Cores:
			return 1
		}
		return 0
	})
	return r, prof
}

// cpuTicks is a process's user + system time in clock ticks.
func cpuTicks(pid int) int64 {
	if pid <= 0 {
		return 0
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// After "pid (comm) ": state ppid pgrp session tty tpgid flags minflt
	// cminflt majflt cmajflt utime stime ...
	i := strings.LastIndexByte(string(raw), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(raw[i+1:]))
	if len(f) < 13 {
		return 0
	}
	var utime, stime int64
	fmt.Sscan(f[11], &utime)
	fmt.Sscan(f[12], &stime)
	return utime + stime
}

// stackMemory is the memory of every process of the stack but this one, in
// MiB, as proportional set size (PSS: a page shared by n processes counts
// 1/n to each, so PostgreSQL's shared buffers count once, not once per
// backend). The dev broker, standing in for Kafka, is not counted.
func stackMemory(sys *runner.System) float64 {
	var kb int64
	for _, g := range processGroups(sys) {
		if strings.HasPrefix(g.Name, "bench") {
			continue
		}
		for _, pid := range g.pids() {
			kb += pssKB(pid)
		}
	}
	return float64(kb) / 1024
}

func pssKB(pid int) int64 {
	if pid <= 0 {
		return 0
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "Pss:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), &kb)
			return kb
		}
	}
	return 0
}

// children are the processes whose parent is pid.
func children(pid int) []int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []int
	for _, st := range stats {
		raw, err := os.ReadFile(st)
		if err != nil {
			continue
		}
		i := strings.LastIndexByte(string(raw), ')')
		if i < 0 {
			continue
		}
		var child, ppid int
		var state string
		fmt.Sscan(string(raw), &child)
		if _, err := fmt.Sscan(string(raw[i+1:]), &state, &ppid); err == nil && ppid == pid {
			out = append(out, child)
		}
	}
	return out
}

// loadGroup is the bench's own process: the load generator (and the
// runner's piping of the processes' logs).
const loadGroup = "bench (load)"
