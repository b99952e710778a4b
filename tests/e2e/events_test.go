package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	dapr "github.com/dapr/go-sdk/client"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/tests/internal/wait"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	patientv1 "github.com/pms-dapr/pms/proto/patient/v1"
)

// publish sends raw data to the patient topic through patient-service's
// sidecar with the Dapr Go SDK, as patient-service's outbox relay does.
func publish(t *testing.T, data []byte) {
	t.Helper()
	require.NoError(t, publishVia(t, "patient-service", "patient", data))
}

// publishVia publishes data on topic through app's sidecar (gRPC, with the
// sidecar's API token) and returns the sidecar's answer.
func publishVia(t *testing.T, app, topic string, data []byte) error {
	t.Helper()
	a := sys.App(app)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := dapr.NewClientWithAddressContext(ctx, a.SidecarGRPC())
	require.NoError(t, err)
	defer c.Close()
	c.WithAuthToken(a.DaprAPIToken)
	return c.PublishEvent(ctx, "pubsub", topic, data, dapr.PublishEventWithContentType("application/json"))
}

// analytics stores an event once even when it is delivered twice, and a
// malformed event goes to the dead-letter topic without blocking the events
// behind it.
func TestAnalyticsIsIdempotentAndDeadLettersMalformedEvents(t *testing.T) {
	before := settledSummary(t).TotalPatientsCreated
	marker := "malformed-" + uuid.NewString()
	ev, err := protojson.Marshal(&patientv1.PatientEvent{
		EventId:    uuid.NewString(),
		Type:       patientv1.EventType_PATIENT_CREATED,
		PatientId:  uuid.NewString(),
		OccurredAt: timestamppb.Now(),
		Version:    1,
	})
	require.NoError(t, err)

	publish(t, []byte(`{"eventId": "`+marker+`", "type": "NOPE"}`))
	publish(t, ev)
	publish(t, ev)
	after, _ := createPatient(t, newPatient("After Replay"))
	require.NotEmpty(t, after.ID)

	// The replayed event counts once, the real patient once: +2 in all.
	wait.Until(t, 10*time.Second, "analytics catches up", func() error {
		if n := analyticsSummary(t).TotalPatientsCreated; n != before+2 {
			return fmt.Errorf("totalPatientsCreated = %d, want %d", n, before+2)
		}
		return nil
	})
	time.Sleep(time.Second)
	assert.Equal(t, before+2, analyticsSummary(t).TotalPatientsCreated, "no late duplicate")
	wait.Until(t, 10*time.Second, "the malformed event is in the dead-letter topic", func() error {
		for _, r := range topicRecords(t, deadLetterTopic) {
			if strings.Contains(string(r.Value), marker) {
				return nil
			}
		}
		return fmt.Errorf("%s not in %s", marker, deadLetterTopic)
	})
}

const deadLetterTopic = "patient-deadletter"

// With analytics' database refusing connections for a minute, events wait
// (redelivered by the sidecar's retry policy): none is dead-lettered, and
// every one is counted once the database is back.
func TestAnalyticsDatabaseOutageLosesNothing(t *testing.T) {
	before := settledSummary(t).TotalPatientsCreated
	dead := len(topicRecords(t, deadLetterTopic))

	ctx := context.Background()
	admin, err := pgx.Connect(ctx, sys.PostgresURL)
	require.NoError(t, err)
	defer admin.Close(ctx)
	setAnalyticsDatabase := func(allow bool) {
		_, err := admin.Exec(ctx, fmt.Sprintf("ALTER DATABASE analytics WITH ALLOW_CONNECTIONS %t", allow))
		require.NoError(t, err)
		if !allow {
			_, err = admin.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'analytics'")
			require.NoError(t, err)
		}
	}
	setAnalyticsDatabase(false)
	restored := false
	defer func() {
		if !restored {
			setAnalyticsDatabase(true)
		}
	}()

	const n = 3
	for i := range n {
		createPatient(t, newPatient(fmt.Sprintf("During Outage %d", i)))
	}
	time.Sleep(time.Minute)
	setAnalyticsDatabase(true)
	restored = true

	wait.Until(t, 90*time.Second, "every event of the outage is counted", func() error {
		if got := analyticsSummary(t).TotalPatientsCreated; got != before+n {
			return fmt.Errorf("totalPatientsCreated = %d, want %d", got, before+n)
		}
		return nil
	})
	assert.Len(t, topicRecords(t, deadLetterTopic), dead, "nothing was dead-lettered for an outage")
}

// topicRecords reads every record of topic from the broker, as any Kafka
// consumer would: up to each partition's end offset at the time of the
// call, so a slow fetch can never pass for an empty topic.
func topicRecords(t *testing.T, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(strings.Split(sys.KafkaBrokers, ",")...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	require.NoError(t, err)
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	require.NoError(t, err)
	want := map[int32]int64{} // partition → end offset still to reach
	ends.Each(func(o kadm.ListedOffset) {
		if errors.Is(o.Err, kerr.UnknownTopicOrPartition) {
			return // never written to
		}
		require.NoError(t, o.Err, "end offset of %s/%d", topic, o.Partition)
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	var out []*kgo.Record
	for len(want) > 0 {
		fetches := cl.PollFetches(ctx)
		require.NoError(t, ctx.Err(), "reading %s up to its end offsets: still %v", topic, want)
		fetches.EachError(func(topic string, partition int32, err error) {
			require.NoError(t, err, "fetching %s/%d", topic, partition)
		})
		fetches.EachRecord(func(r *kgo.Record) {
			if end, ok := want[r.Partition]; ok && r.Offset < end {
				out = append(out, r)
				if r.Offset+1 >= end {
					delete(want, r.Partition)
				}
			}
		})
	}
	return out
}
