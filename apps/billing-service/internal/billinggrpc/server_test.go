package billinggrpc_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/pms-dapr/pms/apps/billing-service/internal/billing"
	"github.com/pms-dapr/pms/apps/billing-service/internal/billingdb"
	"github.com/pms-dapr/pms/apps/billing-service/internal/billinggrpc"
	"github.com/pms-dapr/pms/platform/pgtest"
	"github.com/pms-dapr/pms/platform/requestid"
	"github.com/pms-dapr/pms/platform/service"
	billingv1 "github.com/pms-dapr/pms/proto/billing/v1"
)

var template = pgtest.NewTemplate("billing", billingdb.Migrations())

// client serves the API over an in-memory connection, backed by a real
// database cloned for the test.
const appToken = "app-token-for-tests"

func client(t *testing.T) billingv1.BillingServiceClient { return clientWithToken(t, appToken) }

func clientWithToken(t *testing.T, token string) billingv1.BillingServiceClient {
	return clientLogging(t, token, service.NewLoggerTo(io.Discard, "billing-service"))
}

func clientLogging(t *testing.T, token string, log *slog.Logger) billingv1.BillingServiceClient {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(billinggrpc.RequestIDs, billinggrpc.RequireAppToken(appToken)))
	billingv1.RegisterBillingServiceServer(srv, billinggrpc.NewServer(billing.NewService(billingdb.New(template.Pool(t))), log))
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			return invoker(metadata.AppendToOutgoingContext(ctx, "dapr-api-token", token), method, req, reply, cc, opts...)
		}),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return billingv1.NewBillingServiceClient(conn)
}

const patientID = "6f1c4a50-0000-4000-8000-0000000000aa"

func TestCreateIsIdempotentOnPatient(t *testing.T) {
	api := client(t)
	ctx := context.Background()
	req := &billingv1.CreateBillingAccountRequest{PatientId: patientID, Name: "Ada", Email: "ada@example.com"}
	first, err := api.CreateBillingAccount(ctx, req)
	require.NoError(t, err)
	assert.True(t, first.GetCreated())
	assert.Equal(t, billingv1.AccountStatus_ACCOUNT_STATUS_ACTIVE, first.GetStatus())

	req.Name = "Ada L." // a retry with changed details still returns the first account
	second, err := api.CreateBillingAccount(ctx, req)
	require.NoError(t, err)
	assert.False(t, second.GetCreated())
	assert.Equal(t, first.GetAccountId(), second.GetAccountId())

	got, err := api.GetBillingAccount(ctx, &billingv1.GetBillingAccountRequest{PatientId: patientID})
	require.NoError(t, err)
	assert.Equal(t, first.GetAccountId(), got.GetAccount().GetAccountId())
	assert.Equal(t, "Ada", got.GetAccount().GetName())
	assert.NotEmpty(t, got.GetAccount().GetCreatedAt())
}

func TestBadInputIsInvalidArgumentNamingFields(t *testing.T) {
	api := client(t)
	_, err := api.CreateBillingAccount(context.Background(), &billingv1.CreateBillingAccountRequest{PatientId: "42", Email: "nope"})
	st := status.Convert(err)
	require.Equal(t, codes.InvalidArgument, st.Code(), "%v", err)
	var fields []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				fields = append(fields, v.GetField())
			}
		}
	}
	assert.Equal(t, []string{"patient_id", "name", "email"}, fields, "every field, in a stable order")

	_, err = api.GetBillingAccount(context.Background(), &billingv1.GetBillingAccountRequest{PatientId: ""})
	assert.Equal(t, codes.InvalidArgument, status.Code(err))
}

// The request id sent as metadata is on billing-service's log lines.
func TestRequestIDCrossesTheHop(t *testing.T) {
	var logs bytes.Buffer
	api := clientLogging(t, appToken, service.NewLoggerTo(&logs, "billing-service"))
	ctx := metadata.AppendToOutgoingContext(context.Background(), requestid.Metadata, "req-0123456789")
	_, err := api.CreateBillingAccount(ctx, &billingv1.CreateBillingAccountRequest{PatientId: patientID, Name: "Ada", Email: "ada@example.com"})
	require.NoError(t, err)
	assert.Contains(t, logs.String(), `"request_id":"req-0123456789"`)
}

func TestUnknownPatientIsNotFound(t *testing.T) {
	_, err := client(t).GetBillingAccount(context.Background(), &billingv1.GetBillingAccountRequest{PatientId: patientID})
	assert.Equal(t, codes.NotFound, status.Code(err))
}

func TestCallsWithoutTheAppTokenAreRejected(t *testing.T) {
	for _, token := range []string{"", "wrong"} {
		_, err := clientWithToken(t, token).GetBillingAccount(context.Background(), &billingv1.GetBillingAccountRequest{PatientId: patientID})
		assert.Equal(t, codes.Unauthenticated, status.Code(err), "token %q", token)
	}
}
