package billingapi_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/pms-dapr/pms/apps/api-gateway/internal/billingapi"
	billingv1 "github.com/pms-dapr/pms/proto/billing/v1"
)

const acct = "6f1c4a50-0000-4000-8000-0000000000aa"

// fakeBilling records the last call and answers with err or a posting.
type fakeBilling struct {
	billingv1.BillingServiceClient
	md     metadata.MD
	charge *billingv1.PostChargeRequest
	change *billingv1.ChangeAccountStatusRequest
	err    error
}

func (f *fakeBilling) PostCharge(ctx context.Context, in *billingv1.PostChargeRequest, _ ...grpc.CallOption) (*billingv1.PostEntryResponse, error) {
	f.md, _ = metadata.FromOutgoingContext(ctx)
	f.charge = in
	if f.err != nil {
		return nil, f.err
	}
	return &billingv1.PostEntryResponse{Replayed: in.GetIdempotencyKey() == "again",
		Entry:   &billingv1.LedgerEntry{EntryId: "e-1", AccountId: in.GetAccountId(), Kind: billingv1.EntryKind_ENTRY_KIND_CHARGE, AmountMinor: in.GetQuantity() * in.GetUnitPriceMinor()},
		Account: &billingv1.BillingAccount{AccountId: in.GetAccountId(), Status: billingv1.AccountStatus_ACCOUNT_STATUS_ACTIVE, BalanceMinor: 300, Version: 2}}, nil
}

func (f *fakeBilling) ChangeAccountStatus(ctx context.Context, in *billingv1.ChangeAccountStatusRequest, _ ...grpc.CallOption) (*billingv1.GetAccountResponse, error) {
	f.change = in
	if f.err != nil {
		return nil, f.err
	}
	return &billingv1.GetAccountResponse{Account: &billingv1.BillingAccount{AccountId: in.GetAccountId(), Status: billingv1.AccountStatus_ACCOUNT_STATUS_ON_HOLD, Version: in.GetExpectedVersion() + 1}}, nil
}

func serve(t *testing.T, f billingv1.BillingServiceClient, method, path, body string, headers map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	h := &billingapi.Handler{Client: f, AppID: "billing-service", DaprAPIToken: "sidecar-token", Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	r := chi.NewRouter()
	for _, rt := range h.Routes("admin", "billing", "clinician") {
		r.Method(rt.Method, rt.Pattern, rt.Handle)
	}
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer user-token")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	return rec
}

type problemBody struct {
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

func decodeProblem(t *testing.T, rec *httptest.ResponseRecorder) (problemBody, []string) {
	t.Helper()
	assert.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
	var p problemBody
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p), rec.Body.String())
	var fields []string
	for _, e := range p.Errors {
		fields = append(fields, e.Field)
	}
	return p, fields
}

const charge = `{"serviceDate":"2026-11-30","code":"99213","description":"Visit","quantity":3,"unitPriceMinor":100}`

func TestAChargeIsForwardedWithTheCallersToken(t *testing.T) {
	f := &fakeBilling{}
	rec := serve(t, f, "POST", "/billing/accounts/"+acct+"/charges", charge, map[string]string{"Idempotency-Key": "k-1"})
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	assert.Equal(t, "/billing/accounts/"+acct+"/entries/e-1", rec.Header().Get("Location"))
	assert.Empty(t, rec.Header().Get("Idempotent-Replayed"))
	assert.Equal(t, []string{"billing-service"}, f.md.Get("dapr-app-id"))
	assert.Equal(t, []string{"sidecar-token"}, f.md.Get("dapr-api-token"))
	assert.Equal(t, []string{"Bearer user-token"}, f.md.Get("authorization"))
	assert.Equal(t, "k-1", f.charge.GetIdempotencyKey())
	assert.Equal(t, int64(100), f.charge.GetUnitPriceMinor())
	var body struct {
		Entry struct {
			Kind        string `json:"kind"`
			AmountMinor int64  `json:"amountMinor"`
		} `json:"entry"`
		Account struct {
			BalanceMinor int64  `json:"balanceMinor"`
			Status       string `json:"status"`
		} `json:"account"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
	assert.Equal(t, "CHARGE", body.Entry.Kind)
	assert.Equal(t, int64(300), body.Entry.AmountMinor)
	assert.Equal(t, "ACTIVE", body.Account.Status)

	rec = serve(t, f, "POST", "/billing/accounts/"+acct+"/charges", charge, map[string]string{"Idempotency-Key": "again"})
	assert.Equal(t, http.StatusCreated, rec.Code)
	assert.Equal(t, "true", rec.Header().Get("Idempotent-Replayed"))
}

func TestPostingsAreRefusedBeforeTheCall(t *testing.T) {
	f := &fakeBilling{}
	rec := serve(t, f, "POST", "/billing/accounts/"+acct+"/charges", charge, nil)
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	_, fields := decodeProblem(t, rec)
	assert.Equal(t, []string{"Idempotency-Key"}, fields)

	rec = serve(t, f, "POST", "/billing/accounts/"+acct+"/charges", strings.Replace(charge, "100}", "100.5}", 1), map[string]string{"Idempotency-Key": "k"})
	assert.Equal(t, http.StatusBadRequest, rec.Code, "a fraction of a minor unit is refused, never rounded")
	_, fields = decodeProblem(t, rec)
	assert.Equal(t, []string{"unitPriceMinor"}, fields)

	rec = serve(t, f, "POST", "/billing/accounts/"+acct+"/charges", charge, map[string]string{"Idempotency-Key": "caf\xc3\xa9"})
	assert.Equal(t, http.StatusBadRequest, rec.Code, "a key gRPC metadata and the domain refuse is refused here")

	rec = serve(t, f, "POST", "/billing/accounts/not-a-uuid/charges", charge, map[string]string{"Idempotency-Key": "k"})
	assert.Equal(t, http.StatusNotFound, rec.Code)

	rec = serve(t, f, "POST", "/billing/accounts/"+acct+"/hold", "", nil)
	assert.Equal(t, http.StatusPreconditionRequired, rec.Code)
	assert.Nil(t, f.charge, "nothing reached billing-service")
	assert.Nil(t, f.change)

	rec = serve(t, f, "POST", "/billing/accounts/"+acct+"/hold", "", map[string]string{"If-Match": `"7"`})
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, int64(7), f.change.GetExpectedVersion())
	assert.Equal(t, `"8"`, rec.Header().Get("ETag"))
}

func withDetails(t *testing.T, code codes.Code, msg string, details ...any) error {
	st := status.New(code, msg)
	for _, d := range details {
		var err error
		switch d := d.(type) {
		case *errdetails.BadRequest:
			st, err = st.WithDetails(d)
		case *errdetails.ErrorInfo:
			st, err = st.WithDetails(d)
		}
		require.NoError(t, err)
	}
	return st.Err()
}

func TestBillingErrorsAreProblems(t *testing.T) {
	cases := []struct {
		err    error
		status int
		fields []string
	}{
		{withDetails(t, codes.InvalidArgument, "invalid charge", &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
			{Field: "service_date", Description: "must not be in the future"}, {Field: "unit_price_minor", Description: "too big"}}}),
			http.StatusBadRequest, []string{"serviceDate", "unitPriceMinor"}},
		{withDetails(t, codes.FailedPrecondition, "the account is ON_HOLD: it takes no charges",
			&errdetails.ErrorInfo{Reason: "ACCOUNT_ON_HOLD", Metadata: map[string]string{"status": "ON_HOLD"}}),
			http.StatusConflict, []string{"status"}},
		{status.Error(codes.NotFound, "no such billing account"), http.StatusNotFound, nil},
		{withDetails(t, codes.FailedPrecondition, "stale", &errdetails.ErrorInfo{Reason: "VERSION_MISMATCH"}), http.StatusPreconditionFailed, nil},
		{status.Error(codes.AlreadyExists, "reused"), http.StatusUnprocessableEntity, []string{"Idempotency-Key"}},
		{status.Error(codes.PermissionDenied, "no"), http.StatusForbidden, nil},
		{status.Error(codes.Unauthenticated, "no"), http.StatusUnauthorized, nil},
		{status.Error(codes.Unavailable, "connection refused"), http.StatusServiceUnavailable, nil},
		{status.Error(codes.Internal, "boom"), http.StatusServiceUnavailable, nil},
	}
	for _, c := range cases {
		rec := serve(t, &fakeBilling{err: c.err}, "POST", "/billing/accounts/"+acct+"/charges", charge, map[string]string{"Idempotency-Key": "k"})
		assert.Equal(t, c.status, rec.Code, "%v", c.err)
		p, fields := decodeProblem(t, rec)
		assert.Equal(t, c.fields, fields, "%v", c.err)
		assert.Equal(t, c.status, p.Status)
		if c.status == http.StatusServiceUnavailable {
			assert.Equal(t, "2", rec.Header().Get("Retry-After"))
		}
		if c.status == http.StatusConflict {
			assert.Contains(t, p.Detail, "ON_HOLD")
		}
	}
}

// Query text a gRPC message cannot carry is refused naming the parameter,
// never passed on (where it would fail as an internal error).
func TestQueriesAreCheckedBeforeTheCall(t *testing.T) {
	for _, target := range []string{
		"/billing/accounts?patientId=%FF", "/billing/accounts?cursor=a%00b", "/billing/accounts?sort=name",
		"/billing/accounts/" + acct + "/statement?from=%C0%AF&to=2026-12-01",
	} {
		rec := serve(t, &fakeBilling{}, "GET", target, "", nil)
		assert.Equal(t, http.StatusBadRequest, rec.Code, target)
		_, fields := decodeProblem(t, rec)
		assert.NotEmpty(t, fields, target)
	}
}
