package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
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
// with its top functions. Sidecars started with profiling on
// (runner.Options.ProfileSidecars) are profiled over the phase's length d
// from their pprof endpoint, into dir/<slug>-<app>-daprd.cpu.pprof.
func profileApps(sys *runner.System, dir, slug string, d time.Duration, phase func() result) (result, []appProfile) {
	apps := sys.Apps()
	var wg sync.WaitGroup
	sidecars := make([]string, len(apps))
	for i, a := range apps {
		if pid := a.AppPID(); pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGUSR1)
		}
		if a.DaprProfilePort > 0 {
			dst := filepath.Join(dir, slug+"-"+a.ID+"-daprd.cpu.pprof")
			wg.Go(func() {
				if err := fetchProfile(a.DaprProfilePort, d, dst); err == nil {
					sidecars[i] = dst
				}
			})
		}
	}
	r := phase()
	for _, a := range apps {
		if pid := a.AppPID(); pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGUSR2)
		}
	}
	wg.Wait()
	var out []appProfile
	for i, a := range apps {
		src := filepath.Join(dir, a.ID+".cpu.pprof")
		if settled(src, 5*time.Second) {
			dst := filepath.Join(dir, slug+"-"+a.ID+".cpu.pprof")
			if os.Rename(src, dst) == nil {
				out = append(out, appProfile{App: a.ID, File: dst, Top: pprofTop(dst, 12)})
			}
		}
		if sidecars[i] != "" {
			out = append(out, appProfile{App: a.ID + " daprd", File: sidecars[i], Top: pprofTop(sidecars[i], 12)})
		}
	}
	return r, out
}

// fetchProfile writes a CPU profile of d (whole seconds, at least one) from
// the pprof endpoint on 127.0.0.1:port to dst.
func fetchProfile(port int, d time.Duration, dst string) error {
	secs := max(1, int(d/time.Second))
	c := &http.Client{Timeout: time.Duration(secs)*time.Second + 30*time.Second}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile?seconds=%d", port, secs))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile: %s", resp.Status)
	}
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
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
