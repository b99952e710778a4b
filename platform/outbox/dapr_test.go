package outbox_test

import (
	"context"
	"net"
	"sync"
	"testing"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/pms-dapr/pms/platform/outbox"
)

// sidecar is a stand-in for daprd's gRPC API that records publishes.
type sidecar struct {
	runtimev1.UnimplementedDaprServer
	mu     sync.Mutex
	got    []*runtimev1.PublishEventRequest
	bulk   []*runtimev1.BulkPublishRequest
	tokens []string
	fail   bool
	refuse map[string]bool // entry ids a bulk publish reports failed
}

func (s *sidecar) BulkPublishEvent(ctx context.Context, req *runtimev1.BulkPublishRequest) (*runtimev1.BulkPublishResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bulk = append(s.bulk, req)
	s.tokens = append(s.tokens, md.Get("dapr-api-token")...)
	if s.fail {
		return nil, status.Error(codes.Unavailable, "broker down")
	}
	res := &runtimev1.BulkPublishResponse{}
	for _, e := range req.GetEntries() {
		if s.refuse[e.GetEntryId()] {
			res.FailedEntries = append(res.FailedEntries, &runtimev1.BulkPublishResponseFailedEntry{EntryId: e.GetEntryId(), Error: "refused"})
		}
	}
	return res, nil
}

func (s *sidecar) PublishEvent(ctx context.Context, req *runtimev1.PublishEventRequest) (*emptypb.Empty, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, req)
	s.tokens = append(s.tokens, md.Get("dapr-api-token")...)
	if s.fail {
		return nil, status.Error(codes.Unavailable, "broker down")
	}
	return &emptypb.Empty{}, nil
}

func startSidecar(t *testing.T) (*sidecar, string) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &sidecar{}
	srv := grpc.NewServer()
	runtimev1.RegisterDaprServer(srv, s)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return s, lis.Addr().String()
}

func TestPublisherSetsCloudEventIDPartitionKeyAndToken(t *testing.T) {
	sc, addr := startSidecar(t)
	p := &outbox.DaprPublisher{Address: addr, PubSub: "pubsub", APIToken: "sidecar-token", EventType: "pms.test.v1.Event"}
	defer p.Close()
	m := outbox.Message{EventID: "0b8f0c9e-8f43-4a39-a0a4-3a4f2f0b8e11", Topic: "patient",
		Key: "3d993b7f-67e8-4f2f-9429-e766ce3a9de7", Payload: `{"eventId":"0b8f0c9e-8f43-4a39-a0a4-3a4f2f0b8e11"}`}
	require.NoError(t, p.Publish(t.Context(), m))
	require.NoError(t, p.Publish(t.Context(), m), "the connection is kept and reused")

	require.Len(t, sc.got, 2)
	req := sc.got[0]
	assert.Equal(t, "pubsub", req.GetPubsubName())
	assert.Equal(t, "patient", req.GetTopic())
	assert.Equal(t, m.Payload, string(req.GetData()))
	assert.Equal(t, "application/json", req.GetDataContentType())
	assert.Equal(t, m.EventID, req.GetMetadata()["cloudevent.id"])
	assert.Equal(t, m.Key, req.GetMetadata()["partitionKey"])
	assert.Equal(t, "pms.test.v1.Event", req.GetMetadata()["cloudevent.type"])
	assert.Equal(t, []string{"sidecar-token", "sidecar-token"}, sc.tokens)
}

func TestPublisherReportsRefusalsAndMissingSidecar(t *testing.T) {
	sc, addr := startSidecar(t)
	sc.fail = true
	p := &outbox.DaprPublisher{Address: addr, PubSub: "pubsub", APIToken: "t"}
	defer p.Close()
	err := p.Publish(t.Context(), outbox.Message{EventID: "e1", Topic: "patient", Key: "k", Payload: "{}"})
	assert.ErrorContains(t, err, "broker down")

	t.Setenv("DAPR_CLIENT_TIMEOUT_SECONDS", "1") // the SDK's connect timeout
	missing := &outbox.DaprPublisher{Address: "127.0.0.1:1", PubSub: "pubsub", APIToken: "t"}
	defer missing.Close()
	assert.Error(t, missing.Publish(t.Context(), outbox.Message{EventID: "e2", Topic: "patient", Payload: "{}"}))
}

func TestBatchPublisherSendsOneBulkRequestWithEachEntrysIDKeyAndType(t *testing.T) {
	sc, addr := startSidecar(t)
	sc.refuse = map[string]bool{"e2": true}
	p := &outbox.DaprPublisher{Address: addr, PubSub: "pubsub", APIToken: "sidecar-token", EventType: "pms.test.v1.Event"}
	defer p.Close()
	msgs := []outbox.Message{
		{EventID: "e1", Topic: "patient", Key: "k1", Payload: `{"n":1}`},
		{EventID: "e2", Topic: "patient", Key: "k2", Payload: `{"n":2}`},
		{EventID: "e3", Topic: "patient", Key: "k3", Payload: `{"n":3}`, Type: "pms.other.v1.Event",
			TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
	}
	errs := p.PublishBatch(t.Context(), "patient", msgs)
	require.Len(t, errs, 3)
	assert.NoError(t, errs[0])
	assert.ErrorContains(t, errs[1], "e2", "the entry the sidecar refused")
	assert.NoError(t, errs[2])

	require.Len(t, sc.bulk, 1, "one request")
	req := sc.bulk[0]
	assert.Equal(t, "pubsub", req.GetPubsubName())
	assert.Equal(t, "patient", req.GetTopic())
	require.Len(t, req.GetEntries(), 3)
	for i, e := range req.GetEntries() {
		assert.Equal(t, msgs[i].EventID, e.GetEntryId())
		assert.Equal(t, msgs[i].Payload, string(e.GetEvent()))
		assert.Equal(t, "application/json", e.GetContentType())
		assert.Equal(t, msgs[i].EventID, e.GetMetadata()["cloudevent.id"])
		assert.Equal(t, msgs[i].Key, e.GetMetadata()["partitionKey"])
	}
	assert.Equal(t, "pms.test.v1.Event", req.GetEntries()[0].GetMetadata()["cloudevent.type"])
	assert.Equal(t, "pms.other.v1.Event", req.GetEntries()[2].GetMetadata()["cloudevent.type"])
	assert.Equal(t, msgs[2].TraceParent, req.GetEntries()[2].GetMetadata()["cloudevent.traceparent"], "each entry its own trace")
	assert.NotContains(t, req.GetEntries()[0].GetMetadata(), "cloudevent.traceparent", "an untraced event carries none")
	assert.Equal(t, []string{"sidecar-token"}, sc.tokens)

	sc.fail = true
	for _, err := range p.PublishBatch(t.Context(), "patient", msgs) {
		assert.ErrorContains(t, err, "broker down", "a refused request publishes nothing")
	}
}
