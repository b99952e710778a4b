package billinggrpc

import (
	"context"

	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"github.com/dapr/go-sdk/service/common"
	"google.golang.org/grpc"
)

// BulkDelivery has the sidecar deliver sub's events in batches (Dapr's
// bulk subscribe) to handler, one event at a time within a batch, so a
// burst of patient events (a bulk import's) costs one call per batch
// rather than one per event.
//
// Workaround: the Go SDK's gRPC service (1.15) lists its subscriptions
// without bulk settings and answers OnBulkTopicEvent Unimplemented. This
// interceptor, last in the chain (after the app token check), adds the
// settings to sub's entry of ListTopicSubscriptions and answers sub's bulk
// deliveries itself, with a status per event as the SDK answers one:
// SUCCESS when handled, RETRY when handler asks for it, DROP otherwise
// (the sidecar moves a dropped event to sub's dead-letter topic).
func BulkDelivery(sub *common.Subscription, handler common.TopicEventHandler, cfg *runtimev1pb.BulkSubscribeConfig) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		switch info.FullMethod {
		case runtimev1pb.AppCallback_ListTopicSubscriptions_FullMethodName:
			resp, err := next(ctx, req)
			if list, ok := resp.(*runtimev1pb.ListTopicSubscriptionsResponse); ok && err == nil {
				for _, s := range list.GetSubscriptions() {
					if s.GetPubsubName() == sub.PubsubName && s.GetTopic() == sub.Topic {
						s.BulkSubscribe = cfg
					}
				}
			}
			return resp, err
		case runtimev1pb.AppCallback_OnBulkTopicEvent_FullMethodName, runtimev1pb.AppCallbackAlpha_OnBulkTopicEventAlpha1_FullMethodName:
			in, ok := req.(*runtimev1pb.TopicEventBulkRequest)
			if !ok || in.GetPubsubName() != sub.PubsubName || in.GetTopic() != sub.Topic {
				return next(ctx, req)
			}
			out := &runtimev1pb.TopicEventBulkResponse{Statuses: make([]*runtimev1pb.TopicEventBulkResponseEntry, len(in.GetEntries()))}
			for i, entry := range in.GetEntries() {
				status := runtimev1pb.TopicEventResponse_SUCCESS
				if retry, err := handler(ctx, bulkEvent(in, entry)); err != nil {
					status = runtimev1pb.TopicEventResponse_DROP
					if retry {
						status = runtimev1pb.TopicEventResponse_RETRY
					}
				}
				out.Statuses[i] = &runtimev1pb.TopicEventBulkResponseEntry{EntryId: entry.GetEntryId(), Status: status}
			}
			return out, nil
		}
		return next(ctx, req)
	}
}

// bulkEvent is one entry of a bulk delivery as the SDK hands a single one.
func bulkEvent(in *runtimev1pb.TopicEventBulkRequest, entry *runtimev1pb.TopicEventBulkRequestEntry) *common.TopicEvent {
	e := &common.TopicEvent{Topic: in.GetTopic(), PubsubName: in.GetPubsubName(), Metadata: entry.GetMetadata()}
	if ce := entry.GetCloudEvent(); ce != nil {
		e.ID, e.Source, e.Type, e.SpecVersion, e.DataContentType = ce.GetId(), ce.GetSource(), ce.GetType(), ce.GetSpecVersion(), ce.GetDataContentType()
		e.RawData = ce.GetData()
		if tp := ce.GetExtensions().GetFields()["traceparent"]; tp != nil {
			e.TraceParent = tp.GetStringValue()
		}
	} else {
		e.ID, e.RawData, e.DataContentType = entry.GetEntryId(), entry.GetBytes(), entry.GetContentType()
	}
	e.Data = e.RawData
	return e
}
