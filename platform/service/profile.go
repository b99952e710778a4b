package service

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"syscall"
)

// ProfileOnSignal lets a benchmark profile the app without a listening
// port: when cfg.Dir (PPROF_DIR) is set, SIGUSR1 starts a CPU profile
// written to <dir>/<app>.cpu.pprof and SIGUSR2 stops it. Without it it does
// nothing (the signals keep their default action).
func ProfileOnSignal(ctx context.Context, log *slog.Logger, app string, cfg Profiling) {
	dir := cfg.Dir
	if dir == "" {
		return
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGUSR2)
	go func() {
		defer signal.Stop(sigs)
		var f *os.File
		stop := func() {
			if f != nil {
				pprof.StopCPUProfile()
				f.Close()
				log.Info("CPU profile written", "file", f.Name())
				f = nil
			}
		}
		defer stop()
		for {
			select {
			case <-ctx.Done():
				return
			case s := <-sigs:
				if s == syscall.SIGUSR2 {
					stop()
					continue
				}
				if f != nil {
					continue
				}
				var err error
				if f, err = os.Create(filepath.Join(dir, app+".cpu.pprof")); err != nil {
					log.Warn("CPU profile not started", "err", err)
					f = nil
					continue
				}
				if err := pprof.StartCPUProfile(f); err != nil {
					log.Warn("CPU profile not started", "err", err)
					f.Close()
					f = nil
				}
			}
		}
	}()
}

// Profiling is the configuration of ProfileOnSignal.
type Profiling struct {
	Dir string `env:"PPROF_DIR" help:"Benchmarks only: a directory where SIGUSR1 starts and SIGUSR2 stops a CPU profile of the app (<app>.cpu.pprof). Unset, the signals keep their default action."`
}
