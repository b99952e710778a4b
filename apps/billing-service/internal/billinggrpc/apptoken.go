package billinggrpc

import (
	"context"
	"crypto/subtle"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/pms-dapr/pms/platform/authn"
	"github.com/pms-dapr/pms/platform/requestid"
)

// RequireAppToken rejects calls that do not carry token in the
// dapr-api-token metadata, i.e. that did not come through billing-service's
// own sidecar. The standard health service stays open for probes.
func RequireAppToken(token string) grpc.UnaryServerInterceptor {
	want := []byte(token)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		if strings.HasPrefix(info.FullMethod, "/grpc.health.v1.Health/") {
			return next(ctx, req)
		}
		md, _ := metadata.FromIncomingContext(ctx)
		got := md.Get(authn.APITokenHeader)
		if len(want) == 0 || len(got) != 1 || subtle.ConstantTimeCompare([]byte(got[0]), want) != 1 {
			return nil, status.Error(codes.Unauthenticated, "billing-service only answers calls that come through its Dapr sidecar")
		}
		return next(ctx, req)
	}
}

// RequestIDs puts the caller's request id (or a new one, if it sent none or
// a malformed one) into the context, so every log line of the call has it.
func RequestIDs(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	var id string
	if v := md.Get(requestid.Metadata); len(v) == 1 {
		id = v[0]
	}
	return next(requestid.With(ctx, requestid.Ensure(id)), req)
}
