package e2e

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/tests/internal/wait"
)

// Restarting PostgreSQL while patients are registered and read gives only
// 2xx, 409 and 503 (with Retry-After) answers, never a 500; every 201 is
// stored; and the system recovers by itself, without restarting any app.
func TestDatabaseRestartGivesNo500(t *testing.T) {
	require.NotNil(t, sys.Postgres, "the runner's own PostgreSQL cluster")
	var (
		mu       sync.Mutex
		statuses = map[int]int{}
		created  []string
		wg       sync.WaitGroup
	)
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				r := doAs(t, adminToken, http.MethodPost, gateway+"/patients", newPatient("Restart Patient"))
				var p patient
				if r.status == http.StatusCreated {
					p = decodeAs[patient](t, r)
				}
				reads := doAs(t, adminToken, http.MethodGet, gateway+"/patients?limit=5", nil)
				mu.Lock()
				for _, x := range []response{r, reads} {
					statuses[x.status]++
					if x.status == http.StatusServiceUnavailable && x.header.Get("Retry-After") == "" {
						t.Errorf("503 without Retry-After: %s", x.body)
					}
				}
				if p.ID != "" {
					created = append(created, p.ID)
				}
				mu.Unlock()
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	time.Sleep(time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, sys.Postgres.Restart(ctx))
	time.Sleep(3 * time.Second)
	close(stop)
	wg.Wait()

	t.Logf("answers during a PostgreSQL restart: %v", statuses)
	for status := range statuses {
		assert.Contains(t, []int{http.StatusOK, http.StatusCreated, http.StatusConflict, http.StatusServiceUnavailable},
			status, "status %d during the restart", status)
	}
	wait.Until(t, 30*time.Second, "the system serves again", func() error {
		if r := doAs(t, adminToken, http.MethodGet, gateway+"/patients?limit=1", nil); r.status != http.StatusOK {
			return fmt.Errorf("GET /patients: %d %s", r.status, r.body)
		}
		return nil
	})
	for _, id := range created {
		assert.Equal(t, http.StatusOK, doAs(t, adminToken, http.MethodGet, gateway+"/patients/"+id, nil).status, "created %s is stored", id)
	}
	for _, a := range sys.Apps() {
		assert.True(t, a.Running(), "%s was not restarted or stopped", a.ID)
	}
}

// Every app holds connections to its own database only, as that database's
// runtime login (<db>_app): never a superuser, never the owner that ran
// the migrations.
func TestAppsConnectAsTheirRuntimeRoles(t *testing.T) {
	ctx := context.Background()
	// Each app uses its database first: a test before this one may have
	// restarted PostgreSQL, and a pool connects again only when asked
	// (billing-service: when patient-service or its reconciler calls it).
	_, status, err := login(sys.AdminEmail, sys.AdminPassword)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	createPatient(t, newPatient("Role Check"))
	analyticsSummary(t)

	admin, err := pgx.Connect(ctx, sys.PostgresURL)
	require.NoError(t, err)
	defer admin.Close(ctx)
	type session struct {
		db, user string
		super    bool
	}
	var logins []session
	wait.Until(t, 30*time.Second, "every app holds a connection to its database", func() error {
		rows, err := admin.Query(ctx, `
SELECT DISTINCT a.datname, a.usename, r.rolsuper
FROM pg_stat_activity a JOIN pg_roles r ON r.rolname = a.usename
WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()`)
		if err != nil {
			return err
		}
		logins, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (session, error) {
			var l session
			return l, r.Scan(&l.db, &l.user, &l.super)
		})
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, l := range logins {
			seen[l.db] = true
		}
		for _, db := range []string{"auth", "patient", "billing", "analytics"} {
			if !seen[db] {
				return fmt.Errorf("no connection to %s seen", db)
			}
		}
		return nil
	})
	for _, l := range logins {
		assert.Equal(t, l.db+"_app", l.user, "connection to %s", l.db)
		assert.False(t, l.super, "%s is a superuser", l.user)
	}
}
