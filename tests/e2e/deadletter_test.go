package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	dapr "github.com/dapr/go-sdk/client"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pms-dapr/pms/tests/internal/wait"

	patientv1 "github.com/pms-dapr/pms/proto/patient/v1"
)

type deadLetter struct {
	ID           string `json:"id"`
	Topic        string `json:"topic"`
	CloudEventID string `json:"cloudEventId"`
	EventID      string `json:"eventId"`
	Type         string `json:"type"`
	Reason       string `json:"reason"`
}

func deadLetters(t *testing.T) []deadLetter {
	t.Helper()
	r := do(t, http.MethodGet, gateway+"/admin/dead-letters?topic=patient", nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	return decodeAs[struct {
		Items []deadLetter `json:"items"`
	}](t, r).Items
}

// waitForDeadLetter waits until the event eventID is listed as a dead
// letter, and returns it.
func waitForDeadLetter(t *testing.T, eventID string) deadLetter {
	t.Helper()
	var letter deadLetter
	wait.Until(t, 30*time.Second, "event "+eventID+" is a dead letter", func() error {
		for _, l := range deadLetters(t) {
			if l.EventID == eventID {
				letter = l
				return nil
			}
		}
		return fmt.Errorf("event %s not listed", eventID)
	})
	return letter
}

// analyticsDB is a connection to analytics' database as the server's
// admin, closed when the test ends.
func analyticsDB(t *testing.T) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(sys.PostgresURL)
	require.NoError(t, err)
	cfg.Database = "analytics"
	db, err := pgx.ConnectConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close(ctx) })
	return db
}

// metric reads one sample from an app's /metrics (METRICS_ADDR in dapr.yaml).
func metric(t *testing.T, addr, sample string) float64 {
	t.Helper()
	resp, err := httpClient.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(sample) + ` (\S+)$`).FindSubmatch(body)
	require.NotNil(t, m, "%s not in the metrics of %s", sample, addr)
	v, err := strconv.ParseFloat(string(m[1]), 64)
	require.NoError(t, err)
	return v
}

// An event analytics' database refuses is dead-lettered with its reason
// (not retried forever); an admin sees it, fixes the cause and redrives
// it; it is stored once, and nothing of it is left in the dead letters.
func TestDeadLetterRedrive(t *testing.T) {
	const analyticsMetrics = "127.0.0.1:9473"
	ctx := context.Background()
	db := analyticsDB(t)

	// The cause: a constraint that refuses this one patient's events.
	patientID, eventID := uuid.NewString(), uuid.NewString()
	_, err := db.Exec(ctx, fmt.Sprintf(`ALTER TABLE patient_events ADD CONSTRAINT e2e_refused CHECK (patient_id <> '%s') NOT VALID`, patientID))
	require.NoError(t, err)
	fixed := false
	fix := func() {
		_, err := db.Exec(ctx, `ALTER TABLE patient_events DROP CONSTRAINT IF EXISTS e2e_refused`)
		require.NoError(t, err)
		fixed = true
	}
	defer func() {
		if !fixed {
			fix()
		}
	}()

	ev, err := protojson.Marshal(&patientv1.PatientEvent{EventId: eventID, Type: patientv1.EventType_PATIENT_UPDATED,
		PatientId: patientID, OccurredAt: timestamppb.Now(), Version: 2})
	require.NoError(t, err)
	a := sys.App("patient-service")
	c, err := dapr.NewClientWithAddressContext(ctx, a.SidecarGRPC())
	require.NoError(t, err)
	defer c.Close()
	c.WithAuthToken(a.DaprAPIToken)
	require.NoError(t, c.PublishEvent(ctx, "pubsub", "patient", ev, dapr.PublishEventWithContentType("application/json"),
		dapr.PublishEventWithMetadata(map[string]string{"cloudevent.id": eventID, "partitionKey": patientID,
			"cloudevent.type": "pms.patient.v1.PatientEvent"})))

	letter := waitForDeadLetter(t, eventID)
	assert.Equal(t, eventID, letter.CloudEventID)
	assert.Contains(t, letter.Reason, "23514", "the reason names the refusal")
	assert.Contains(t, letter.Reason, "e2e_refused")
	assert.GreaterOrEqual(t, metric(t, analyticsMetrics, `pms_dead_letters{topic="patient"}`), 1.0)
	stored := func() int {
		var n int
		require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM patient_events WHERE event_id = $1`, eventID).Scan(&n))
		return n
	}
	require.Zero(t, stored())

	fix()
	r := do(t, http.MethodPost, gateway+"/admin/dead-letters/redrive", map[string]any{"ids": []string{letter.ID}})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	out := decodeAs[struct {
		Redriven []deadLetter `json:"redriven"`
		Complete bool         `json:"complete"`
	}](t, r)
	require.True(t, out.Complete)
	require.Len(t, out.Redriven, 1)

	wait.Until(t, 30*time.Second, "the redriven event is stored", func() error {
		if n := stored(); n != 1 {
			return fmt.Errorf("%d rows", n)
		}
		return nil
	})
	// A second redrive of the same letter sends nothing; the event stays
	// stored once, and no dead letter of it is pending.
	r = do(t, http.MethodPost, gateway+"/admin/dead-letters/redrive", map[string]any{"ids": []string{letter.ID}})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Contains(t, string(r.body), `"redriven":[]`)
	time.Sleep(2 * time.Second)
	assert.Equal(t, 1, stored())
	for _, l := range deadLetters(t) {
		assert.NotEqual(t, eventID, l.EventID, "the redriven event is no longer a dead letter")
	}
	// Who listed and redrove it is on record.
	var audited int
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM dead_letter_audit WHERE action = 'dead-letters.redrive' AND $1::uuid = ANY(dead_letter_ids)`,
		letter.ID).Scan(&audited))
	assert.Equal(t, 1, audited)
	assert.Positive(t, metric(t, analyticsMetrics, `pms_consumer_lag_seconds_count{topic="patient"}`))
	assert.Less(t, metric(t, "127.0.0.1:9471", "pms_outbox_lag_seconds"), 5.0, "patient-service's outbox keeps up")
	metric(t, "127.0.0.1:9472", "pms_outbox_pending") // billing-service's outbox is measured too
}

// An event that must never be counted (malformed) is dead-lettered; an
// admin discards it through the gateway with a reason: it leaves the list,
// is never stored, and the discard is on record with its reason.
// parkMalformedEvent publishes a patient event of no known type, as
// patient-service would, and returns it once it is a dead letter.
func parkMalformedEvent(t *testing.T) deadLetter {
	t.Helper()
	ctx := context.Background()
	eventID := uuid.NewString()
	a := sys.App("patient-service")
	c, err := dapr.NewClientWithAddressContext(ctx, a.SidecarGRPC())
	require.NoError(t, err)
	defer c.Close()
	c.WithAuthToken(a.DaprAPIToken)
	bad := fmt.Sprintf(`{"eventId":%q,"type":"NOT_A_TYPE","patientId":%q}`, eventID, uuid.NewString())
	require.NoError(t, c.PublishEvent(ctx, "pubsub", "patient", []byte(bad), dapr.PublishEventWithContentType("application/json"),
		dapr.PublishEventWithMetadata(map[string]string{"cloudevent.id": eventID, "cloudevent.type": "pms.patient.v1.PatientEvent"})))
	return waitForDeadLetter(t, eventID)
}

func TestDeadLetterDiscard(t *testing.T) {
	ctx := context.Background()
	letter := parkMalformedEvent(t)
	eventID := letter.EventID

	r := do(t, http.MethodPost, gateway+"/admin/dead-letters/discard", map[string]any{"ids": []string{letter.ID}})
	require.Equal(t, http.StatusBadRequest, r.status, "a discard needs a reason: %s", r.body)
	r = do(t, http.MethodPost, gateway+"/admin/dead-letters/discard", map[string]any{"ids": []string{letter.ID}, "reason": "malformed test event"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Contains(t, string(r.body), letter.ID)
	for _, l := range deadLetters(t) {
		assert.NotEqual(t, eventID, l.EventID, "a discarded event is no longer a dead letter")
	}
	r = do(t, http.MethodPost, gateway+"/admin/dead-letters/redrive", map[string]any{"ids": []string{letter.ID}})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Contains(t, string(r.body), `"redriven":[]`, "a discarded letter is never redriven")

	db := analyticsDB(t)
	var reason string
	require.NoError(t, db.QueryRow(ctx, `SELECT discard_reason FROM dead_letters WHERE id = $1`, letter.ID).Scan(&reason))
	assert.Equal(t, "malformed test event", reason)
	var audited int
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM dead_letter_audit WHERE action = 'dead-letters.discard' AND $1::uuid = ANY(dead_letter_ids)`,
		letter.ID).Scan(&audited))
	assert.Equal(t, 1, audited)
}
