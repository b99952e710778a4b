package metrics_test

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pms-dapr/pms/platform/metrics"
)

// Calls are counted by method and status code, refusals included.
func TestGRPCCountsByMethodAndCode(t *testing.T) {
	reg := prometheus.NewRegistry()
	count, err := metrics.GRPC(reg)
	require.NoError(t, err)
	info := &grpc.UnaryServerInfo{FullMethod: "/pms.billing.v1.BillingService/PostCharge"}
	ok := func(context.Context, any) (any, error) { return "posted", nil }
	refused := func(context.Context, any) (any, error) { return nil, status.Error(codes.FailedPrecondition, "held") }
	for _, h := range []grpc.UnaryHandler{ok, ok, refused} {
		_, _ = count(context.Background(), nil, info, h)
	}
	want := `
# HELP pms_grpc_requests_total gRPC calls served, by method and status code.
# TYPE pms_grpc_requests_total counter
pms_grpc_requests_total{code="FailedPrecondition",method="/pms.billing.v1.BillingService/PostCharge"} 1
pms_grpc_requests_total{code="OK",method="/pms.billing.v1.BillingService/PostCharge"} 2
`
	assert.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want), "pms_grpc_requests_total"))
	assert.Equal(t, 1, testutil.CollectAndCount(reg, "pms_grpc_request_duration_seconds"))
}
