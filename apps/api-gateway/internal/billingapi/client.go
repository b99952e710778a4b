// Package billingapi is the REST API of billing accounts (/billing). The
// gateway serves it by calling billing-service's gRPC API through its own
// Dapr sidecar (gRPC proxying on the dapr-app-id metadata), forwarding the
// caller's access token, which billing-service verifies and audits.
package billingapi

import (
	"context"
	"fmt"
	"net/http"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"google.golang.org/grpc/metadata"

	"github.com/pms-dapr/pms/platform/tracing"

	"github.com/pms-dapr/pms/platform/requestid"
	billingv1 "github.com/pms-dapr/pms/proto/billing/v1"
)

// Dial returns a BillingService client through the sidecar's gRPC port at
// sidecarAddr. Every call carries appID, the sidecar's API token and, from
// the request, the caller's access token and request id (Outgoing).
//
// A plain gRPC client, not the Dapr Go SDK's: the SDK client's API-token
// interceptor (go-sdk v1.15.0) replaces the outgoing metadata, dropping
// dapr-app-id, so the sidecar could not route the call.
func Dial(sidecarAddr string) (billingv1.BillingServiceClient, func() error, error) {
	conn, err := grpc.NewClient(sidecarAddr, grpc.WithTransportCredentials(insecure.NewCredentials()), tracing.DialOption())
	if err != nil {
		return nil, nil, fmt.Errorf("billingapi.dial: %w", err)
	}
	return billingv1.NewBillingServiceClient(conn), conn.Close, nil
}

// Outgoing is the metadata of a call made for r: the target app, the
// sidecar's token, the caller's access token and the request id.
func Outgoing(r *http.Request, appID, daprAPIToken string) context.Context {
	pairs := []string{"dapr-app-id", appID, requestid.Metadata, requestid.From(r.Context())}
	if daprAPIToken != "" {
		pairs = append(pairs, "dapr-api-token", daprAPIToken)
	}
	if auth := r.Header.Get("Authorization"); auth != "" {
		pairs = append(pairs, "authorization", auth)
	}
	return metadata.AppendToOutgoingContext(r.Context(), pairs...)
}
