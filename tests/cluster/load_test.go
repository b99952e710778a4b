package cluster

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/tests/internal/wait"
)

// registration is one patient registered through the gateway under load.
type registration struct {
	email string
	id    string // set once a 201 came back
	// Answers before the 201: 503s with Retry-After the client waited out
	// and retried with the same Idempotency-Key.
	retried int
	// The first answer that was neither 201 nor a 503 with Retry-After, or
	// the transport error; empty when the registration went through.
	failure string
}

// load registers patients through the gateway at a steady rate until
// stopped (or until max are sent, when max > 0), as a careful client does:
// every registration carries an Idempotency-Key, and a 503 with
// Retry-After is retried after the delay with the same key; when retry503
// is false a 503 is a failure too.
type load struct {
	token    string
	rate     int // registrations per second
	max      int
	retry503 bool
	run      string // unique per load, in every email

	stop chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	regs []*registration
}

func startLoad(token string, rate, max int, retry503 bool) *load {
	l := &load{token: token, rate: rate, max: max, retry503: retry503,
		run: strconv.FormatInt(time.Now().UnixNano(), 36), stop: make(chan struct{})}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		for n := 0; l.max == 0 || n < l.max; n++ {
			select {
			case <-l.stop:
				return
			case <-tick.C:
			}
			r := &registration{email: fmt.Sprintf("load.%s.%d@example.com", l.run, n)}
			l.mu.Lock()
			l.regs = append(l.regs, r)
			l.mu.Unlock()
			l.wg.Add(1)
			go func() { defer l.wg.Done(); l.register(r) }()
		}
	}()
	return l
}

func (l *load) register(r *registration) {
	body := map[string]string{"name": "Load Test", "email": r.email, "address": "1 Load Street", "dateOfBirth": "1980-02-29"}
	key := "load-" + r.email
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := call(http.MethodPost, gateway+"/patients", l.token, body, "Idempotency-Key", key)
		switch {
		case err != nil:
			r.failure = err.Error()
			return
		case resp.status == http.StatusCreated:
			var p struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(resp.body, &p); err != nil || p.ID == "" {
				r.failure = fmt.Sprintf("201 without an id: %s", resp.body)
			}
			r.id = p.ID
			return
		case resp.status == http.StatusServiceUnavailable && l.retry503 && time.Now().Before(deadline):
			secs, err := strconv.Atoi(resp.header.Get("Retry-After"))
			if err != nil || secs < 0 {
				r.failure = fmt.Sprintf("503 without a usable Retry-After (%q): %s", resp.header.Get("Retry-After"), resp.body)
				return
			}
			r.retried++
			time.Sleep(time.Duration(secs) * time.Second)
		default:
			r.failure = fmt.Sprintf("%d (Retry-After %q): %s", resp.status, resp.header.Get("Retry-After"), resp.body)
			return
		}
	}
}

// finish stops sending (a load of max registrations sends them all
// first) and waits for every registration's answer.
func (l *load) finish() []*registration {
	if l.max == 0 {
		close(l.stop)
	}
	l.wg.Wait()
	return l.regs
}

// requireAllStoredOnce fails unless every registration got a 201 and is
// stored exactly once, with exactly one billing account, and counted by
// analytics exactly once (eventually: events are asynchronous).
func requireAllStoredOnce(t *testing.T, token string, regs []*registration) {
	t.Helper()
	var failures []string
	ids := make([]string, 0, len(regs))
	for _, r := range regs {
		if r.failure != "" {
			failures = append(failures, r.email+": "+r.failure)
			continue
		}
		ids = append(ids, r.id)
	}
	if len(failures) > 0 {
		shown := failures[:min(len(failures), 5)]
		t.Fatalf("%d of %d registrations failed; the first:\n%s", len(failures), len(regs), strings.Join(shown, "\n"))
	}
	require.NotEmpty(t, ids)
	run := strings.Split(regs[0].email, ".")[1]
	like := "load." + run + ".%"

	// Each email stored once, under the id the client was given.
	rows := psql(t, "patient", fmt.Sprintf("SELECT count(*), count(DISTINCT email), count(DISTINCT id) FROM patients WHERE email LIKE '%s'", like))
	assert.Equal(t, fmt.Sprintf("%d|%d|%d", len(regs), len(regs), len(regs)), rows, "patients stored (rows|emails|ids)")
	quoted := "'" + strings.Join(ids, "','") + "'"
	assert.Equal(t, strconv.Itoa(len(ids)), psql(t, "patient", "SELECT count(*) FROM patients WHERE id IN ("+quoted+")"),
		"every id a client was given is stored")
	// One billing account each, recorded on the patient.
	assert.Equal(t, fmt.Sprintf("%d|%d", len(ids), len(ids)),
		psql(t, "billing", "SELECT count(*), count(DISTINCT patient_id) FROM billing_accounts WHERE patient_id IN ("+quoted+")"),
		"billing accounts (rows|patients)")
	wait.Until(t, 2*time.Minute, "every patient holds its billing account", func() error {
		if n := psql(t, "patient", "SELECT count(*) FROM patients WHERE billing_account_id IS NULL AND id IN ("+quoted+")"); n != "0" {
			return fmt.Errorf("%s patients without a billing account", n)
		}
		return nil
	})
	// One analytics event each, once the events have arrived.
	wait.Until(t, 3*time.Minute, "analytics counted every registration once", func() error {
		got := psql(t, "analytics", "SELECT count(*), count(DISTINCT patient_id) FROM patient_events WHERE event_type = 'PATIENT_CREATED' AND patient_id IN ("+quoted+")")
		if want := fmt.Sprintf("%d|%d", len(ids), len(ids)); got != want {
			return fmt.Errorf("events (rows|patients) %s, want %s", got, want)
		}
		return nil
	})
	// And nothing is left in the outbox.
	wait.Until(t, time.Minute, "outbox drained", func() error {
		if n := psql(t, "patient", "SELECT count(*) FROM outbox WHERE sent_at IS NULL"); n != "0" {
			return fmt.Errorf("%s unsent", n)
		}
		return nil
	})
}
