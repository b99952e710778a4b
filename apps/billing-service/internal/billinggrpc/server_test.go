package billinggrpc_test

import (
	"bytes"
	"context"
	"errors"
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
	"github.com/pms-dapr/pms/apps/billing-service/internal/billing/billingtest"
	"github.com/pms-dapr/pms/apps/billing-service/internal/billinggrpc"
	"github.com/pms-dapr/pms/platform/authn"
	"github.com/pms-dapr/pms/platform/requestid"
	"github.com/pms-dapr/pms/platform/service"
	billingv1 "github.com/pms-dapr/pms/proto/billing/v1"
)

// client serves the API over an in-memory connection, backed by the
// in-memory store (billingdb's tests run the same contract on PostgreSQL).
const appToken = "app-token-for-tests"

func client(t *testing.T) billingv1.BillingServiceClient { return clientWithToken(t, appToken) }

func clientWithToken(t *testing.T, token string) billingv1.BillingServiceClient {
	return clientLogging(t, token, service.NewLoggerTo(io.Discard, "billing-service"))
}

func clientLogging(t *testing.T, token string, log *slog.Logger) billingv1.BillingServiceClient {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(billinggrpc.RequestIDs, billinggrpc.RequireAppToken(appToken),
		billinggrpc.Authenticate(tokens)))
	svc, err := billing.NewService(billingtest.NewStore(), "USD")
	require.NoError(t, err)
	billingv1.RegisterBillingServiceServer(srv, billinggrpc.NewServer(svc, log))
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
	req := &billingv1.CreateBillingAccountRequest{PatientId: patientID}
	first, err := api.CreateBillingAccount(ctx, req)
	require.NoError(t, err)
	assert.True(t, first.GetCreated())
	assert.Equal(t, billingv1.AccountStatus_ACCOUNT_STATUS_ACTIVE, first.GetStatus())

	second, err := api.CreateBillingAccount(ctx, req)
	require.NoError(t, err)
	assert.False(t, second.GetCreated())
	assert.Equal(t, first.GetAccountId(), second.GetAccountId())

	got, err := api.GetBillingAccount(ctx, &billingv1.GetBillingAccountRequest{PatientId: patientID})
	require.NoError(t, err)
	assert.Equal(t, first.GetAccountId(), got.GetAccount().GetAccountId())
	assert.Equal(t, "USD", got.GetAccount().GetCurrency())
	assert.NotEmpty(t, got.GetAccount().GetCreatedAt())
}

func TestBadInputIsInvalidArgumentNamingFields(t *testing.T) {
	api := client(t)
	_, err := api.CreateBillingAccount(context.Background(), &billingv1.CreateBillingAccountRequest{PatientId: "42"})
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
	assert.Equal(t, []string{"patient_id"}, fields)

	_, err = api.GetBillingAccount(context.Background(), &billingv1.GetBillingAccountRequest{PatientId: ""})
	assert.Equal(t, codes.InvalidArgument, status.Code(err))
}

// The request id sent as metadata is on billing-service's log lines.
func TestRequestIDCrossesTheHop(t *testing.T) {
	var logs bytes.Buffer
	api := clientLogging(t, appToken, service.NewLoggerTo(&logs, "billing-service"))
	ctx := metadata.AppendToOutgoingContext(context.Background(), requestid.Metadata, "req-0123456789")
	_, err := api.CreateBillingAccount(ctx, &billingv1.CreateBillingAccountRequest{PatientId: patientID})
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

// tokens accepts "Bearer <role>" as that role's user.
var tokens = verifierFunc(func(_ context.Context, raw string) (authn.Identity, error) {
	if authn.ValidRole(raw) {
		return authn.Identity{Subject: "u-" + raw, Role: raw}, nil
	}
	if raw == "keys-down" {
		return authn.Identity{}, authn.ErrKeysUnavailable
	}
	return authn.Identity{}, errors.New("bad token")
})

type verifierFunc func(context.Context, string) (authn.Identity, error)

func (f verifierFunc) Verify(ctx context.Context, raw string) (authn.Identity, error) {
	return f(ctx, raw)
}

func as(role string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+role)
}

func TestStaffMethodsNeedAVerifiedToken(t *testing.T) {
	api := client(t)
	_, err := api.CreateBillingAccount(context.Background(), &billingv1.CreateBillingAccountRequest{PatientId: patientID})
	require.NoError(t, err, "the service method needs no user")
	req := &billingv1.ListAccountsRequest{PatientId: patientID}
	_, err = api.ListAccounts(context.Background(), req)
	assert.Equal(t, codes.Unauthenticated, status.Code(err))
	_, err = api.ListAccounts(as("forged"), req)
	assert.Equal(t, codes.Unauthenticated, status.Code(err))
	_, err = api.ListAccounts(as("keys-down"), req)
	assert.Equal(t, codes.Unavailable, status.Code(err))
	list, err := api.ListAccounts(as("clinician"), req)
	require.NoError(t, err)
	require.Len(t, list.GetAccounts(), 1)
	_, err = api.ListEntries(as("clinician"), &billingv1.ListEntriesRequest{AccountId: list.GetAccounts()[0].GetAccountId()})
	assert.Equal(t, codes.PermissionDenied, status.Code(err), "clinicians post charges but do not read ledgers")
}

func TestRefusalsSayWhy(t *testing.T) {
	api := client(t)
	opened, err := api.CreateBillingAccount(context.Background(), &billingv1.CreateBillingAccountRequest{PatientId: patientID})
	require.NoError(t, err)
	id := opened.GetAccountId()
	held, err := api.ChangeAccountStatus(as("billing"), &billingv1.ChangeAccountStatusRequest{AccountId: id,
		Action: billingv1.StatusAction_STATUS_ACTION_HOLD, ExpectedVersion: 1})
	require.NoError(t, err)
	assert.Equal(t, billingv1.AccountStatus_ACCOUNT_STATUS_ON_HOLD, held.GetAccount().GetStatus())
	_, err = api.ChangeAccountStatus(as("billing"), &billingv1.ChangeAccountStatusRequest{AccountId: id,
		Action: billingv1.StatusAction_STATUS_ACTION_RELEASE, ExpectedVersion: 1})
	assert.Equal(t, codes.FailedPrecondition, status.Code(err), "a stale version")

	_, err = api.PostCharge(as("clinician"), &billingv1.PostChargeRequest{AccountId: id, IdempotencyKey: "k",
		ServiceDate: "2026-11-01", Code: "99213", Description: "Visit", Quantity: 1, UnitPriceMinor: 100})
	st := status.Convert(err)
	require.Equal(t, codes.FailedPrecondition, st.Code(), "%v", err)
	var reason string
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			reason = info.GetReason() + "/" + info.GetMetadata()["status"]
		}
	}
	assert.Equal(t, billinggrpc.ReasonOnHold+"/ON_HOLD", reason)

	paid, err := api.PostPayment(as("billing"), &billingv1.PostPaymentRequest{AccountId: id, IdempotencyKey: "p",
		AmountMinor: 2_500, Method: billingv1.PaymentMethod_PAYMENT_METHOD_CARD})
	require.NoError(t, err)
	assert.Equal(t, int64(-2_500), paid.GetEntry().GetAmountMinor())
	assert.Equal(t, int64(-2_500), paid.GetAccount().GetBalanceMinor())
	assert.Equal(t, billingv1.PaymentMethod_PAYMENT_METHOD_CARD, paid.GetEntry().GetMethod())
	_, err = api.PostPayment(as("billing"), &billingv1.PostPaymentRequest{AccountId: id, IdempotencyKey: "p",
		AmountMinor: 2_501, Method: billingv1.PaymentMethod_PAYMENT_METHOD_CARD})
	assert.Equal(t, codes.AlreadyExists, status.Code(err))
	_, err = api.ReverseEntry(as("billing"), &billingv1.ReverseEntryRequest{AccountId: id, IdempotencyKey: "r",
		EntryId: "6f1c4a50-0000-4000-8000-0000000000ff", Reason: "typo"})
	assert.Equal(t, codes.InvalidArgument, status.Code(err), "an unknown entry is a bad entry_id")
}

// Only the subscription list is open without the app token (daprd 1.18.2
// asks for it without one); a delivery is not.
func TestOnlyTheSubscriptionListSkipsTheAppToken(t *testing.T) {
	intercept := billinggrpc.RequireAppToken(appToken)
	ok := func(context.Context, any) (any, error) { return "ok", nil }
	for method, want := range map[string]codes.Code{
		"/dapr.proto.runtime.v1.AppCallback/ListTopicSubscriptions": codes.OK,
		"/grpc.health.v1.Health/Check":                              codes.OK,
		"/dapr.proto.runtime.v1.AppCallback/OnTopicEvent":           codes.Unauthenticated,
		billingv1.BillingService_PostCharge_FullMethodName:          codes.Unauthenticated,
	} {
		_, err := intercept(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: method}, ok)
		assert.Equal(t, want, status.Code(err), method)
	}
}
