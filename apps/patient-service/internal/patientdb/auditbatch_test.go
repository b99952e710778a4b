package patientdb_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/apps/patient-service/internal/patient"
	"github.com/pms-dapr/pms/apps/patient-service/internal/patientdb"
)

// Concurrent reads' audit entries are committed together, each caller
// returning once its own entry is in, and every field arrives intact.
func TestConcurrentAuditEntriesAreGroupCommitted(t *testing.T) {
	ctx := context.Background()
	db := template.Clone(t)
	store := patientdb.New(db.Pool)
	const n = 300
	at := time.Date(2026, 12, 3, 10, 0, 0, 123000, time.UTC)
	ids := []string{uuid.NewString(), uuid.NewString()}
	entry := func(i int) patient.AuditEntry {
		e := patient.AuditEntry{At: at.Add(time.Duration(i) * time.Millisecond), UserID: "u1", Role: "clinician",
			Action: "read", RequestID: fmt.Sprintf("req-%d", i), Outcome: "success", Detail: fmt.Sprintf("d,%d", i)}
		switch i % 3 {
		case 1:
			e.PatientIDs = ids[:1]
		case 2:
			e.PatientIDs = ids
		}
		return e
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = store.RecordAudit(ctx, entry(i))
			if errs[i] == nil {
				// Answered: its entry must be there already.
				var found int
				errs[i] = db.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE request_id = $1`, entry(i).RequestID).Scan(&found)
				if errs[i] == nil && found != 1 {
					errs[i] = fmt.Errorf("%d entries for %s right after RecordAudit", found, entry(i).RequestID)
				}
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, i)
	}
	assert.Equal(t, n, count(t, db.Pool, `SELECT count(*) FROM audit_log`))
	commits := count(t, db.Pool, `SELECT count(DISTINCT xmin::text) FROM audit_log`)
	t.Logf("%d entries in %d commits", n, commits)
	assert.Less(t, commits, n/4, "entries written together")

	page, err := store.AuditTrail(ctx, ids[1], patient.AuditQuery{Limit: patient.MaxAuditLimit})
	require.NoError(t, err)
	trail := page.Items
	require.Len(t, trail, n/3, "entries naming the second patient")
	for _, e := range trail {
		var i int
		_, err := fmt.Sscanf(e.RequestID, "req-%d", &i)
		require.NoError(t, err)
		assert.Equal(t, entry(i), e)
	}
	none, err := store.AuditTrail(ctx, uuid.NewString(), patient.AuditQuery{Limit: patient.MaxAuditLimit})
	require.NoError(t, err)
	assert.Empty(t, none.Items)
}

// An entry PostgreSQL refuses fails alone: the entries committed with it
// are stored.
func TestARefusedAuditEntryFailsAlone(t *testing.T) {
	ctx := context.Background()
	db := template.Clone(t)
	store := patientdb.New(db.Pool)
	const n = 40
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			e := patient.AuditEntry{At: time.Now().UTC(), UserID: "u1", Role: "clinician", Action: "read",
				RequestID: fmt.Sprintf("req-%d", i), Outcome: "success"}
			if i == n/2 {
				e.Detail = "name=\x00"
			}
			errs[i] = store.RecordAudit(ctx, e)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if i == n/2 {
			assert.Error(t, err, "the entry with a NUL")
		} else {
			assert.NoError(t, err, i)
		}
	}
	assert.Equal(t, n-1, count(t, db.Pool, `SELECT count(*) FROM audit_log`))
}
