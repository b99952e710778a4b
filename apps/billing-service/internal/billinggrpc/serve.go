package billinggrpc

import (
	"context"
	"log/slog"
	"net"

	daprgrpc "github.com/dapr/go-sdk/service/grpc"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/pms-dapr/pms/apps/billing-service/internal/billing"
	"github.com/pms-dapr/pms/platform/metrics"
	"github.com/pms-dapr/pms/platform/service"
	"github.com/pms-dapr/pms/platform/tracing"
	billingv1 "github.com/pms-dapr/pms/proto/billing/v1"
)

// Options is what Serve needs besides the domain.
type Options struct {
	AppAPIToken string        // the token the sidecar presents
	Tokens      TokenVerifier // users' access tokens
	PubSubName  string        // where patient events come from
	Log         *slog.Logger
	// Metrics, when set, receives every call's count and time
	// (metrics.GRPC: pms_grpc_requests_total by method and code).
	Metrics prometheus.Registerer
}

// Serve serves billing-service's gRPC API on lis until ctx ends: the
// BillingService behind the request-id, app-token and access-token
// interceptors (and, first, the metrics'), gRPC health, and Dapr's app callbacks (the patient
// subscription, through the Go SDK, which lists it to the sidecar) on the
// same server.
func Serve(ctx context.Context, lis net.Listener, svc *billing.Service, o Options) error {
	sub, events := PatientSubscription(o.PubSubName), PatientEvents(svc, o.Log)
	interceptors := []grpc.UnaryServerInterceptor{RequestIDs, RequireAppToken(o.AppAPIToken), Authenticate(o.Tokens),
		BulkDelivery(sub, events, PatientBulk)}
	if o.Metrics != nil {
		counted, err := metrics.GRPC(o.Metrics)
		if err != nil {
			return err
		}
		// First, so refused calls count too.
		interceptors = append([]grpc.UnaryServerInterceptor{counted}, interceptors...)
	}
	srv := grpc.NewServer(tracing.ServerOption(), grpc.ChainUnaryInterceptor(interceptors...))
	billingv1.RegisterBillingServiceServer(srv, NewServer(svc, o.Log))
	h := health.NewServer()
	healthpb.RegisterHealthServer(srv, h)
	callbacks := daprgrpc.NewServiceWithGrpcServer(lis, srv)
	if err := callbacks.AddTopicEventHandler(sub, events); err != nil {
		return err
	}
	return service.ServeGRPC(ctx, o.Log, srv, lis, h)
}
