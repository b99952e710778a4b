package billinggrpc

import (
	"context"
	"crypto/subtle"
	"errors"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/pms-dapr/pms/platform/authn"
	"github.com/pms-dapr/pms/platform/requestid"
	billingv1 "github.com/pms-dapr/pms/proto/billing/v1"
)

// listTopicSubscriptions is the one app callback daprd 1.18.2 makes without
// the app API token (pkg/runtime/processor/subscriber: it asks for the
// subscriptions on a bare app connection, while deliveries and every other
// call go through the channel that adds the token). It is read-only and
// answers only the subscription list, which is no secret, so it is let
// through; every delivery still needs the token.
const listTopicSubscriptions = "/dapr.proto.runtime.v1.AppCallback/ListTopicSubscriptions"

// RequireAppToken rejects calls that do not carry token in the
// dapr-api-token metadata, i.e. that did not come through billing-service's
// own sidecar. The standard health service stays open for probes, and the
// subscription list for daprd (listTopicSubscriptions).
func RequireAppToken(token string) grpc.UnaryServerInterceptor {
	want := []byte(token)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		if strings.HasPrefix(info.FullMethod, "/grpc.health.v1.Health/") || info.FullMethod == listTopicSubscriptions {
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

// TokenVerifier checks a user's access token.
type TokenVerifier interface {
	Verify(ctx context.Context, raw string) (authn.Identity, error)
}

// serviceMethods are called by patient-service, not on a user's behalf;
// the Dapr access policy lets only patient-service reach them.
var serviceMethods = map[string]bool{
	billingv1.BillingService_CreateBillingAccount_FullMethodName:  true,
	billingv1.BillingService_CreateBillingAccounts_FullMethodName: true,
	billingv1.BillingService_GetBillingAccount_FullMethodName:     true,
}

// Authenticate verifies the caller's access token (the `authorization`
// metadata, "Bearer <token>") on every BillingService method but the
// service ones, and puts the identity in the context: UNAUTHENTICATED
// without a valid token, UNAVAILABLE while the keys cannot be fetched.
// Other services on the server (health, Dapr's app callbacks) pass.
func Authenticate(v TokenVerifier) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		if !strings.HasPrefix(info.FullMethod, "/"+billingv1.BillingService_ServiceDesc.ServiceName+"/") || serviceMethods[info.FullMethod] {
			return next(ctx, req)
		}
		md, _ := metadata.FromIncomingContext(ctx)
		var raw string
		if v := md.Get("authorization"); len(v) == 1 {
			if scheme, token, ok := strings.Cut(v[0], " "); ok && strings.EqualFold(scheme, "Bearer") {
				raw = strings.TrimSpace(token)
			}
		}
		if raw == "" {
			return nil, status.Error(codes.Unauthenticated, "a valid access token is required")
		}
		id, err := v.Verify(ctx, raw)
		switch {
		case errors.Is(err, authn.ErrKeysUnavailable):
			return nil, status.Error(codes.Unavailable, "access tokens cannot be checked right now; retry shortly")
		case err != nil:
			return nil, status.Error(codes.Unauthenticated, "a valid access token is required")
		}
		return next(authn.WithIdentity(ctx, id), req)
	}
}
