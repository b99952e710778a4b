package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/pms-dapr/pms/tools/pmsrun/runner"
)

// appProfile is one app's CPU profile during a phase: the file and the
// top of `go tool pprof -top`.
type appProfile struct {
	App  string   `json:"app"`
	File string   `json:"file"`
	Top  []string `json:"top"`
}

// profileApps runs phase with every app writing a CPU profile (SIGUSR1
// starts it, SIGUSR2 stops it: platform/service.ProfileOnSignal, enabled by
// PPROF_DIR=dir), then keeps each profile as dir/<slug>-<app>.cpu.pprof
// with its top functions.
func profileApps(sys *runner.System, dir, slug string, phase func() result) (result, []appProfile) {
	apps := sys.Apps()
	for _, a := range apps {
		if pid := a.AppPID(); pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGUSR1)
		}
	}
	r := phase()
	for _, a := range apps {
		if pid := a.AppPID(); pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGUSR2)
		}
	}
	var out []appProfile
	for _, a := range apps {
		src := filepath.Join(dir, a.ID+".cpu.pprof")
		if !settled(src, 5*time.Second) {
			continue
		}
		dst := filepath.Join(dir, slug+"-"+a.ID+".cpu.pprof")
		if err := os.Rename(src, dst); err != nil {
			continue
		}
		out = append(out, appProfile{App: a.ID, File: dst, Top: pprofTop(dst, 12)})
	}
	return r, out
}

// settled waits until path exists and has stopped growing.
func settled(path string, limit time.Duration) bool {
	var last int64 = -1
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		st, err := os.Stat(path)
		if err != nil {
			continue
		}
		if st.Size() > 0 && st.Size() == last {
			return true
		}
		last = st.Size()
	}
	return false
}

// pprofTop is the first n function lines of `go tool pprof -top`, by
// cumulative time, or why there are none.
func pprofTop(file string, n int) []string {
	out, err := exec.Command("go", "tool", "pprof", "-top", "-cum", fmt.Sprintf("-nodecount=%d", n), file).Output()
	if err != nil {
		return []string{"go tool pprof: " + err.Error()}
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "flat") {
			return lines[i:]
		}
	}
	return lines
}
