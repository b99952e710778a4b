package deadletter_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/apps/analytics-service/internal/deadletter"
	"github.com/pms-dapr/pms/apps/analytics-service/internal/deadletter/deadlettertest"
	"github.com/pms-dapr/pms/platform/validation"
)

func service() (*deadletter.Service, *deadlettertest.Store, *deadlettertest.Publisher) {
	st, pub := deadlettertest.NewStore(), &deadlettertest.Publisher{}
	return &deadletter.Service{Store: st, Publisher: pub}, st, pub
}

func TestParkedOnceWithItsReasonAndRedrivenOnce(t *testing.T) {
	ctx := context.Background()
	svc, st, pub := service()
	require.NoError(t, svc.NoteDrop(ctx, "patient", "ce-1", `unknown gender "Ada Lovelace"`))
	l := deadletter.Letter{CloudEventID: "ce-1", Type: "pms.patient.v1.PatientEvent", Data: []byte(`{}`)}
	require.NoError(t, svc.Park(ctx, "patient-deadletter", l))
	require.NoError(t, svc.Park(ctx, "patient-deadletter", l), "a second subscriber's dead letter of the same event")
	require.NoError(t, svc.Park(ctx, "billing-deadletter", deadletter.Letter{CloudEventID: "ce-2"}))
	assert.Error(t, svc.Park(ctx, "patient", l), "not a dead-letter topic")

	list, err := svc.List(ctx, "admin-1", "patient")
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, "patient", list[0].Topic)
	assert.Equal(t, `unknown gender "…"`, list[0].Reason, "values are never kept in a reason")
	all, err := svc.List(ctx, "admin-1", "")
	require.NoError(t, err)
	require.Len(t, all, 2)
	assert.Equal(t, deadletter.NoReason, all[1].Reason)

	sent, err := svc.Redrive(ctx, "admin-1", deadletter.Selection{IDs: []string{list[0].ID}})
	require.NoError(t, err)
	require.Len(t, sent, 1)
	require.Len(t, pub.Sent, 1)
	assert.Equal(t, "patient", pub.Sent[0].Topic)
	sent, err = svc.Redrive(ctx, "admin-1", deadletter.Selection{IDs: []string{list[0].ID}})
	require.NoError(t, err)
	assert.Empty(t, sent, "a redriven letter is not sent again")
	depth, _ := svc.Depth(ctx)
	assert.Equal(t, map[string]int{"patient": 0, "billing": 1}, depth)

	// It fails again: dead-lettered anew, it is pending again.
	require.NoError(t, svc.NoteDrop(ctx, "patient", "ce-1", "still broken"))
	require.NoError(t, svc.Park(ctx, "patient-deadletter", l))
	again, err := svc.List(ctx, "admin-1", "patient")
	require.NoError(t, err)
	require.Len(t, again, 1)
	assert.Equal(t, "still broken", again[0].Reason)
	assert.Equal(t, []string{"admin-1 dead-letters.list patient 1", "admin-1 dead-letters.list  2",
		"admin-1 dead-letters.redrive  1", "admin-1 dead-letters.redrive  0", "admin-1 dead-letters.list patient 1"}, st.Audits)
}

func TestRedriveStopsAtTheFirstFailureAndKeepsTheRest(t *testing.T) {
	ctx := context.Background()
	svc, st, pub := service()
	for _, id := range []string{"a", "b", "c"} {
		require.NoError(t, svc.Park(ctx, "patient-deadletter", deadletter.Letter{CloudEventID: id}))
	}
	pub.Err, pub.FailAfter = errors.New("sidecar down"), 1
	sent, err := svc.Redrive(ctx, "admin-1", deadletter.Selection{All: true})
	require.Error(t, err)
	assert.Len(t, sent, 1)
	depth, _ := svc.Depth(ctx)
	assert.Equal(t, 2, depth["patient"])
	assert.Equal(t, "admin-1 dead-letters.redrive  1", st.Audits[len(st.Audits)-1], "the audit names what was sent")
	pub.Err = nil
	sent, err = svc.Redrive(ctx, "admin-1", deadletter.Selection{All: true, Topic: "patient"})
	require.NoError(t, err)
	assert.Len(t, sent, 2)
}

func TestBadSelectionsNameTheirField(t *testing.T) {
	svc, _, _ := service()
	for sel, field := range map[*deadletter.Selection]string{
		{}:                                       "ids",
		{All: true, IDs: []string{"x"}}:          "ids",
		{IDs: []string{"not-a-uuid"}}:            "ids[0]",
		{All: true, Topic: "patient-deadletter"}: "topic",
	} {
		_, err := svc.Redrive(context.Background(), "a", *sel)
		var v *validation.Error
		require.ErrorAs(t, err, &v)
		assert.Equal(t, field, v.Fields[0].Field)
	}
}

// A discarded letter leaves the pending list for good (never redriven),
// with the operator's reason; if the event is dead-lettered again, it is
// pending anew.
func TestDiscardedLettersAreNeverRedriven(t *testing.T) {
	ctx := context.Background()
	svc, st, pub := service()
	for _, id := range []string{"a", "b"} {
		require.NoError(t, svc.Park(ctx, "patient-deadletter", deadletter.Letter{CloudEventID: id}))
	}
	list, err := svc.List(ctx, "admin-1", "")
	require.NoError(t, err)
	gone, err := svc.Discard(ctx, "admin-1", []string{list[0].ID}, " a test event ")
	require.NoError(t, err)
	require.Len(t, gone, 1)
	assert.Equal(t, "a", gone[0].CloudEventID)
	assert.Equal(t, "a test event", st.Letters[0].DiscardReason)
	again, err := svc.Discard(ctx, "admin-1", []string{list[0].ID}, "twice")
	require.NoError(t, err)
	assert.Empty(t, again, "a discarded letter is not discarded again")
	sent, err := svc.Redrive(ctx, "admin-1", deadletter.Selection{All: true})
	require.NoError(t, err)
	require.Len(t, sent, 1)
	assert.Equal(t, "b", pub.Sent[0].CloudEventID, "only the letter still pending is redriven")
	assert.Contains(t, st.Audits, "admin-1 dead-letters.discard  1")

	require.NoError(t, svc.Park(ctx, "patient-deadletter", deadletter.Letter{CloudEventID: "a"}))
	pending, err := svc.List(ctx, "admin-1", "patient")
	require.NoError(t, err)
	require.Len(t, pending, 1, "dead-lettered again, it is pending anew")

	for _, tc := range []struct {
		ids    []string
		reason string
		field  string
	}{
		{nil, "why", "ids"},
		{[]string{"not-a-uuid"}, "why", "ids[0]"},
		{[]string{list[0].ID}, "  ", "reason"},
	} {
		_, err := svc.Discard(ctx, "a", tc.ids, tc.reason)
		var v *validation.Error
		require.ErrorAs(t, err, &v)
		assert.Equal(t, tc.field, v.Fields[0].Field)
	}
}

func TestFakeStoreMeetsTheStoreContract(t *testing.T) {
	deadlettertest.StoreContract(t, func(*testing.T) deadletter.Store { return deadlettertest.NewStore() })
}
