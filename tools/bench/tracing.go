package main

import (
	"fmt"
	"net/http"
	"time"
)

// tracingOverhead is what tracing every request costs one kind of request:
// the system's CPU-seconds per 1,000 requests untraced and traced (every
// app and sidecar sampling every request and exporting it over OTLP).
type tracingOverhead struct {
	Phase              string  `json:"phase"`
	UntracedCPUPer1000 float64 `json:"untraced_cpu_seconds_per_1000"`
	TracedCPUPer1000   float64 `json:"traced_cpu_seconds_per_1000"`
	Overhead           float64 `json:"overhead"` // traced over untraced, less one
}

// tracingCost measures registrations and reads again on a system that
// traces every request (the untraced system is stopped first, so the two
// never share the machine), beside the untraced costs measured before.
// The spans go to the runner's receiver in this process, which is not
// counted, as a collector on another machine would not be.
func (b *bench) tracingCost() error {
	untraced := map[string]float64{}
	for _, c := range b.rep.Costs {
		untraced[c.Phase] = c.CPUPer1000
	}
	b.sys.Stop()
	if err := b.startSystem(true); err != nil {
		return err
	}
	fmt.Println("bench: warming up, traced")
	if warm := saturate(b.ctx, "warm-up, traced", 8, b.p.warm, http.StatusCreated, register(b.gateway)); warm.OK == 0 {
		return fmt.Errorf("warm-up, traced: no registration succeeded: %v", warm.Statuses)
	}
	time.Sleep(b.p.settle)
	var created []string
	if _, err := b.profiled("register-traced", func() result {
		r := b.saturate("register, gateway, saturation, traced", http.StatusCreated, register(b.gateway))()
		created = r.created
		return r
	}, func() error {
		if _, err := eventLag(b.ctx, b.sys, "saturation, traced", created); err != nil {
			return err
		}
		return outboxDrained(b.ctx, b.sys, "billing", 2*time.Minute)
	}); err != nil {
		return err
	}
	time.Sleep(b.p.settle)
	if _, err := b.profiled("read-traced", b.saturate("read by id, gateway, saturation, traced", http.StatusOK, read(b.gateway, "/patients/", created)), nil); err != nil {
		return err
	}
	for _, c := range b.rep.Costs {
		for _, phase := range []string{"register", "read"} {
			if c.Phase == phase+"-traced" && untraced[phase] > 0 {
				b.rep.Tracing = append(b.rep.Tracing, tracingOverhead{Phase: phase, UntracedCPUPer1000: untraced[phase],
					TracedCPUPer1000: c.CPUPer1000, Overhead: c.CPUPer1000/untraced[phase] - 1})
			}
		}
	}
	return nil
}
