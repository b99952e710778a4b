package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// target is where one kind of request goes and how it is authorised.
type target struct {
	base    string            // http://127.0.0.1:port
	headers map[string]string // Authorization, and dapr-api-token straight to an app
}

// result is what one load phase measured.
type result struct {
	Name      string      `json:"name"`
	Requests  int         `json:"requests"`
	OK        int         `json:"ok"`
	Failed    int         `json:"failed"` // anything else, or no answer
	Statuses  map[int]int `json:"statuses"`
	PerSecond float64     `json:"per_second"` // successful answers per second
	P50ms     float64     `json:"p50_ms"`
	P99ms     float64     `json:"p99_ms"`
	MaxMs     float64     `json:"max_ms"`

	latencies []time.Duration // of successful answers, sorted
	created   []string        // patient ids, for registrations
}

func (r *result) finish(d time.Duration) {
	slices.Sort(r.latencies)
	r.PerSecond = float64(r.OK) / d.Seconds()
	r.P50ms, r.P99ms = ms(percentile(r.latencies, 50)), ms(percentile(r.latencies, 99))
	if len(r.latencies) > 0 {
		r.MaxMs = ms(r.latencies[len(r.latencies)-1])
	}
}

// percentile of sorted (nearest rank).
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// request is one call: it returns whether it succeeded and, for a
// registration, the new patient's id.
type request func(ctx context.Context) (status int, id string, err error)

// recorder collects answers from concurrent requests.
type recorder struct {
	mu sync.Mutex
	r  result
}

func (rec *recorder) add(status int, id string, err error, want int, took time.Duration) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.r.Requests++
	if err != nil {
		rec.r.Failed++
		rec.r.Statuses[0]++
		return
	}
	rec.r.Statuses[status]++
	if status != want {
		rec.r.Failed++
		return
	}
	rec.r.OK++
	rec.r.latencies = append(rec.r.latencies, took)
	if id != "" {
		rec.r.created = append(rec.r.created, id)
	}
}

// saturate runs workers back-to-back requests each for d (a closed loop:
// the rate the system sustains).
func saturate(ctx context.Context, name string, workers int, d time.Duration, want int, do request) result {
	rec := &recorder{r: result{Name: name, Statuses: map[int]int{}}}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				t0 := time.Now()
				// A request under way at the end is finished and counted.
				status, id, err := do(context.WithoutCancel(ctx))
				rec.add(status, id, err, want, time.Since(t0))
			}
		})
	}
	wg.Wait()
	rec.r.finish(time.Since(start))
	return rec.r
}

// atRate starts requests at a fixed rate for d whatever the answers (an
// open loop), timing each from when it was due, so a stall shows as the
// latency clients would see rather than as fewer requests.
func atRate(ctx context.Context, name string, rate int, d time.Duration, want int, do request) result {
	rec := &recorder{r: result{Name: name, Statuses: map[int]int{}}}
	interval := time.Second / time.Duration(rate)
	n := int(d / interval)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		due := start.Add(time.Duration(i) * interval)
		if w := time.Until(due); w > 0 {
			time.Sleep(w)
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			status, id, err := do(ctx)
			rec.add(status, id, err, want, time.Since(due))
		})
	}
	wg.Wait()
	rec.r.finish(time.Since(start))
	return rec.r
}

// client is the load generator's HTTP client: enough idle connections for
// every worker, nothing shared with the system under test.
var client = &http.Client{
	Timeout: 30 * time.Second,
	Transport: &http.Transport{
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 1024,
		IdleConnTimeout:     time.Minute,
	},
}

var seq atomic.Int64

// register creates a patient with a unique email.
func register(t target) request {
	return func(ctx context.Context) (int, string, error) {
		n := seq.Add(1)
		body, _ := json.Marshal(map[string]string{
			"name":        fmt.Sprintf("Bench Patient %d", n),
			"email":       fmt.Sprintf("bench.%d.%d@example.com", time.Now().UnixNano(), n),
			"address":     "1 Bench Street, Springfield",
			"dateOfBirth": "1980-02-29",
		})
		status, raw, err := call(ctx, t, http.MethodPost, "/patients", body)
		if err != nil || status != http.StatusCreated {
			return status, "", err
		}
		var p struct{ ID string }
		if err := json.Unmarshal(raw, &p); err != nil {
			return status, "", err
		}
		return status, p.ID, nil
	}
}

// read reads patients by id (GET prefix+id), round robin over ids.
func read(t target, prefix string, ids []string) request {
	var next atomic.Int64
	return func(ctx context.Context) (int, string, error) {
		id := ids[int(next.Add(1))%len(ids)]
		status, _, err := call(ctx, t, http.MethodGet, prefix+id, nil)
		return status, "", err
	}
}

// posting posts a charge or a payment (every third) to the accounts in
// turn, each with a new Idempotency-Key, as a clerk's console does.
func posting(t target, accounts []string) request {
	var next atomic.Int64
	charge, _ := json.Marshal(map[string]any{"serviceDate": "2026-12-01", "code": "99213", "description": "Office visit",
		"quantity": 1, "unitPriceMinor": 12_500})
	payment, _ := json.Marshal(map[string]any{"amountMinor": 2_500, "method": "CARD"})
	return func(ctx context.Context) (int, string, error) {
		n := next.Add(1)
		kind, body := "/charges", charge
		if n%3 == 0 {
			kind, body = "/payments", payment
		}
		key := fmt.Sprintf("bench-%d-%d", time.Now().UnixNano(), n)
		status, _, err := callWith(ctx, t, http.MethodPost, "/billing/accounts/"+accounts[int(n)%len(accounts)]+kind, body,
			map[string]string{"Idempotency-Key": key})
		return status, "", err
	}
}

func call(ctx context.Context, t target, method, path string, body []byte) (int, []byte, error) {
	return callWith(ctx, t, method, path, body, nil)
}

func callWith(ctx context.Context, t target, method, path string, body []byte, extra map[string]string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, t.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range t.headers {
		req.Header.Set(k, v)
	}
	for k, v := range extra {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, err
}

// search asks path (a search of a page of patients) over and over.
func search(t target, path string) request {
	return func(ctx context.Context) (int, string, error) {
		status, _, err := call(ctx, t, http.MethodGet, path, nil)
		return status, "", err
	}
}
