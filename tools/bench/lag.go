package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/pms-dapr/pms/tools/pmsrun/runner"
)

// lag is how long registrations took to reach analytics: from the event's
// time (set by patient-service as the registration commits) to analytics'
// own received_at, both on this machine's clock.
type lag struct {
	Name   string  `json:"name"`
	Events int     `json:"events"`
	P50ms  float64 `json:"p50_ms"`
	P99ms  float64 `json:"p99_ms"`
	MaxMs  float64 `json:"max_ms"`

	samples []time.Duration
}

// eventLag waits until analytics has stored the creation event of every
// patient in ids, then measures their lag.
func eventLag(ctx context.Context, sys *runner.System, name string, ids []string) (lag, error) {
	conn, err := database(ctx, sys, "analytics")
	if err != nil {
		return lag{}, err
	}
	defer conn.Close(ctx)
	const query = `SELECT received_at - occurred_at FROM patient_events WHERE patient_id = ANY($1::uuid[]) AND event_type = 'PATIENT_CREATED'`
	deadline := time.Now().Add(2 * time.Minute)
	for {
		rows, err := conn.Query(ctx, query, ids)
		if err != nil {
			return lag{}, err
		}
		l := lag{Name: name}
		for rows.Next() {
			var d time.Duration
			if err := rows.Scan(&d); err != nil {
				rows.Close()
				return lag{}, err
			}
			l.samples = append(l.samples, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return lag{}, err
		}
		if len(l.samples) >= len(ids) {
			slices.Sort(l.samples)
			l.Events = len(l.samples)
			l.P50ms, l.P99ms = ms(percentile(l.samples, 50)), ms(percentile(l.samples, 99))
			l.MaxMs = ms(l.samples[len(l.samples)-1])
			return l, nil
		}
		if time.Now().After(deadline) {
			return lag{}, fmt.Errorf("event lag %s: analytics stored %d of %d events after 2 minutes", name, len(l.samples), len(ids))
		}
		time.Sleep(250 * time.Millisecond)
	}
}
