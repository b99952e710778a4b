package e2e

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Reads' audit entries are group-committed, and a read is answered only
// once its own entry is committed: patient-service killed (SIGKILL) in the
// middle of concurrent reads leaves no answered read without its audit
// entry, found by the request id the gateway answered with.
func TestNoAnsweredReadWithoutItsAuditEntryWhenTheServiceIsKilled(t *testing.T) {
	p, _ := createPatient(t, newPatient("Killed Reader"))
	var (
		mu       sync.Mutex
		answered []string // request ids of 200s
		statuses = map[int]int{}
		wg       sync.WaitGroup
	)
	stop := make(chan struct{})
	for range 16 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				r := doAs(t, adminToken, http.MethodGet, gateway+"/patients/"+p.ID, nil)
				mu.Lock()
				statuses[r.status]++
				if r.status == http.StatusOK {
					answered = append(answered, r.header.Get("X-Request-Id"))
					if len(r.body) == 0 {
						t.Errorf("an empty 200: %v", r.header)
					}
				}
				mu.Unlock()
			}
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	time.Sleep(1500 * time.Millisecond)
	app := sys.App("patient-service")
	require.NotZero(t, app.AppPID())
	require.NoError(t, syscall.Kill(app.AppPID(), syscall.SIGKILL))
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	require.NoError(t, sys.RestartApp(ctx, "patient-service"))

	t.Logf("answers around the kill: %v", statuses)
	require.NotEmpty(t, answered, "reads answered before the kill")
	for status := range statuses {
		assert.Contains(t, []int{http.StatusOK, http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout},
			status, "status %d around the kill", status)
	}
	u, err := url.Parse(sys.PostgresURL)
	require.NoError(t, err)
	u.Path = "/patient"
	conn, err := pgx.Connect(ctx, u.String())
	require.NoError(t, err)
	defer conn.Close(ctx)
	var missing []string
	require.NoError(t, conn.QueryRow(ctx, `SELECT coalesce(array_agg(rid), '{}') FROM unnest($1::text[]) AS rid
		WHERE NOT EXISTS (SELECT 1 FROM audit_log WHERE request_id = rid AND action = 'read' AND $2::uuid = ANY(patient_ids))`,
		answered, p.ID).Scan(&missing))
	assert.Empty(t, missing, "answered reads without an audit entry, of %d", len(answered))
}
