package billinggrpc_test

import (
	"context"
	"errors"
	"testing"

	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"github.com/dapr/go-sdk/service/common"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/pms-dapr/pms/apps/billing-service/internal/billinggrpc"
)

func TestBulkDeliveryHandsEachEventToTheHandlerAndAnswersItsStatus(t *testing.T) {
	sub := billinggrpc.PatientSubscription("pubsub")
	var seen []*common.TopicEvent
	handler := func(_ context.Context, e *common.TopicEvent) (bool, error) {
		seen = append(seen, e)
		switch string(e.RawData) {
		case "retry":
			return true, errors.New("database down")
		case "bad":
			return false, errors.New("malformed")
		}
		return false, nil
	}
	intercept := billinggrpc.BulkDelivery(sub, handler, billinggrpc.PatientBulk)
	unimplemented := func(context.Context, any) (any, error) {
		return nil, errors.New("the SDK does not take bulk deliveries")
	}
	traceExt, err := structpb.NewStruct(map[string]any{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})
	require.NoError(t, err)
	entry := func(id, data string) *runtimev1pb.TopicEventBulkRequestEntry {
		return &runtimev1pb.TopicEventBulkRequestEntry{EntryId: id, Event: &runtimev1pb.TopicEventBulkRequestEntry_CloudEvent{
			CloudEvent: &runtimev1pb.TopicEventCERequest{Id: "ce-" + id, Type: "pms.patient.v1.PatientEvent", Data: []byte(data), Extensions: traceExt}}}
	}
	req := &runtimev1pb.TopicEventBulkRequest{PubsubName: "pubsub", Topic: "patient",
		Entries: []*runtimev1pb.TopicEventBulkRequestEntry{entry("1", "ok"), entry("2", "retry"), entry("3", "bad")}}

	for _, method := range []string{runtimev1pb.AppCallback_OnBulkTopicEvent_FullMethodName, runtimev1pb.AppCallbackAlpha_OnBulkTopicEventAlpha1_FullMethodName} {
		seen = nil
		resp, err := intercept(context.Background(), req, &grpc.UnaryServerInfo{FullMethod: method}, unimplemented)
		require.NoError(t, err)
		out := resp.(*runtimev1pb.TopicEventBulkResponse)
		require.Len(t, out.GetStatuses(), 3)
		assert.Equal(t, []runtimev1pb.TopicEventResponse_TopicEventResponseStatus{
			runtimev1pb.TopicEventResponse_SUCCESS, runtimev1pb.TopicEventResponse_RETRY, runtimev1pb.TopicEventResponse_DROP},
			[]runtimev1pb.TopicEventResponse_TopicEventResponseStatus{out.GetStatuses()[0].GetStatus(), out.GetStatuses()[1].GetStatus(), out.GetStatuses()[2].GetStatus()})
		assert.Equal(t, "2", out.GetStatuses()[1].GetEntryId())
		require.Len(t, seen, 3)
		assert.Equal(t, "ce-1", seen[0].ID)
		assert.Equal(t, "patient", seen[0].Topic)
		assert.Equal(t, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", seen[0].TraceParent, "each event keeps its trace")
	}

	other := &runtimev1pb.TopicEventBulkRequest{PubsubName: "pubsub", Topic: "billing", Entries: req.Entries}
	_, err = intercept(context.Background(), other, &grpc.UnaryServerInfo{FullMethod: runtimev1pb.AppCallback_OnBulkTopicEvent_FullMethodName}, unimplemented)
	assert.Error(t, err, "another topic's delivery is not this subscription's")

	listed := &runtimev1pb.ListTopicSubscriptionsResponse{Subscriptions: []*runtimev1pb.TopicSubscription{{PubsubName: "pubsub", Topic: "patient"}}}
	resp, err := intercept(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: runtimev1pb.AppCallback_ListTopicSubscriptions_FullMethodName},
		func(context.Context, any) (any, error) { return listed, nil })
	require.NoError(t, err)
	bulk := resp.(*runtimev1pb.ListTopicSubscriptionsResponse).GetSubscriptions()[0].GetBulkSubscribe()
	require.NotNil(t, bulk)
	assert.True(t, bulk.GetEnabled())
	assert.Equal(t, int32(100), bulk.GetMaxMessagesCount())
}
