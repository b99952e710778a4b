// Package billingclient opens billing accounts by calling billing-service's
// gRPC API through the local Dapr sidecar (gRPC proxying: the sidecar routes
// on the dapr-app-id metadata, adding mTLS, retries and circuit breaking).
package billingclient

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"google.golang.org/grpc/metadata"

	"github.com/pms-dapr/pms/platform/tracing"

	"github.com/pms-dapr/pms/apps/patient-service/internal/patient"
	"github.com/pms-dapr/pms/platform/requestid"
	billingv1 "github.com/pms-dapr/pms/proto/billing/v1"
)

// Client implements patient.Billing.
//
// It is a plain gRPC client, not the Dapr Go SDK's: Dapr routes a proxied
// gRPC call on its dapr-app-id metadata, and the SDK client's API-token
// interceptor (go-sdk v1.15.0, client.authTokenUnaryInterceptor) replaces
// the outgoing metadata with metadata.NewOutgoingContext, dropping
// dapr-app-id, so the sidecar could not route the call.
type Client struct {
	conn    *grpc.ClientConn
	api     billingv1.BillingServiceClient
	appID   string
	token   string
	timeout time.Duration
}

// New returns a client that reaches app appID through the sidecar's gRPC
// port at sidecarAddr (host:port), presenting the sidecar's API token. Each
// call is bounded by timeout.
func New(sidecarAddr, appID, daprAPIToken string, timeout time.Duration) (*Client, error) {
	conn, err := grpc.NewClient(sidecarAddr, grpc.WithTransportCredentials(insecure.NewCredentials()), tracing.DialOption())
	if err != nil {
		return nil, fmt.Errorf("billingclient.new: %w", err)
	}
	return &Client{conn: conn, api: billingv1.NewBillingServiceClient(conn), appID: appID, token: daprAPIToken, timeout: timeout}, nil
}

// Close releases the connection.
func (c *Client) Close() error { return c.conn.Close() }

// CreateAccount opens (or returns the existing) account for p.
func (c *Client) CreateAccount(ctx context.Context, p patient.Patient) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "dapr-app-id", c.appID, "dapr-api-token", c.token,
		requestid.Metadata, requestid.From(ctx))
	resp, err := c.api.CreateBillingAccount(ctx, &billingv1.CreateBillingAccountRequest{
		PatientId: p.ID,
	})
	if err != nil {
		return "", fmt.Errorf("billingclient.create_account: %w", err)
	}
	return resp.GetAccountId(), nil
}

// bulkTimeout bounds one CreateAccounts call: up to a thousand accounts
// opened in one transaction, far more than one registration's wait.
const bulkTimeout = 30 * time.Second

// CreateAccounts opens (or returns the existing) accounts of patients ids,
// in one call, and returns their ids in the order of ids.
func (c *Client) CreateAccounts(ctx context.Context, ids []string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, bulkTimeout)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "dapr-app-id", c.appID, "dapr-api-token", c.token,
		requestid.Metadata, requestid.From(ctx))
	resp, err := c.api.CreateBillingAccounts(ctx, &billingv1.CreateBillingAccountsRequest{PatientIds: ids})
	if err != nil {
		return nil, fmt.Errorf("billingclient.create_accounts: %w", err)
	}
	out := make([]string, len(resp.GetAccounts()))
	for i, a := range resp.GetAccounts() {
		out[i] = a.GetAccountId()
	}
	return out, nil
}
