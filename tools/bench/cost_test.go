package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCostCountsTheSystemNotTheLoadGenerator(t *testing.T) {
	r := result{Name: "read", OK: 2000, PerSecond: 500}
	prof := cpuProfile{Groups: []cpuShare{
		{Name: "postgres", Cores: 0.25},
		{Name: "kafka broker", Cores: 0.05},
		{Name: loadGroup, Cores: 0.9},
	}}
	c := newCost("read", r, prof, dbCounters{commits: 100, walBytes: 1 << 20}, dbCounters{commits: 2101, walBytes: 1<<20 + 4_096_000})
	assert.InDelta(t, 0.6, c.CPUPer1000, 1e-9, "(0.25 + 0.05) cores / 500 per second × 1,000")
	assert.InDelta(t, 0.5, c.ProcessCPUPer1000["postgres"], 1e-9)
	assert.NotContains(t, c.ProcessCPUPer1000, loadGroup)
	assert.InDelta(t, 1.0, c.CommitsPerRequest, 1e-9, "the reading connection's own commit is not counted")
	assert.InDelta(t, 2048, c.WALBytesPerRequest, 1e-9)

	var out bytes.Buffer
	printCosts(&out, []cost{c})
	assert.Contains(t, out.String(), "whole system")
	assert.Contains(t, out.String(), "0.60")

	assert.Zero(t, newCost("none", result{Name: "none"}, prof, dbCounters{}, dbCounters{}).CPUPer1000, "no answer, no cost")
}
