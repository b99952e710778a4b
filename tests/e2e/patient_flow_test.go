package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/tests/internal/wait"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	billingv1 "github.com/pms-dapr/pms/proto/billing/v1"
)

// A patient created through the gateway can be read back, has a billing
// account (checked over gRPC through a Dapr sidecar) and is counted by
// analytics (through Kafka and Dapr pub/sub).
func TestCreatePatientReachesBillingAndAnalytics(t *testing.T) {
	before := settledSummary(t).TotalPatientsCreated
	body := newPatient("Grace Hopper")
	created, r := createPatient(t, body)

	require.Equal(t, "/patients/"+created.ID, r.header.Get("Location"))
	assert.Equal(t, body["name"], created.Name)
	assert.Equal(t, body["email"], created.Email)
	assert.Equal(t, body["dateOfBirth"], created.DateOfBirth)
	assert.Equal(t, time.Now().UTC().Format("2006-01-02"), created.RegisteredDate)
	require.NotEmpty(t, created.BillingAccountID, "billing answered, so the account id is in the response")

	got := do(t, http.MethodGet, gateway+r.header.Get("Location"), nil)
	require.Equal(t, http.StatusOK, got.status, "%s", got.body)
	assert.Equal(t, created, decodeAs[patient](t, got))

	acct, err := billingv1.NewBillingServiceClient(sidecarConn(t)).GetBillingAccount(toBilling(),
		&billingv1.GetBillingAccountRequest{PatientId: created.ID})
	require.NoError(t, err)
	assert.Equal(t, created.BillingAccountID, acct.GetAccount().GetAccountId())
	assert.Equal(t, "USD", acct.GetAccount().GetCurrency())
	assert.Equal(t, billingv1.AccountStatus_ACCOUNT_STATUS_ACTIVE, acct.GetAccount().GetStatus())

	wait.Until(t, 10*time.Second, "analytics counts the new patient", func() error {
		if n := analyticsSummary(t).TotalPatientsCreated; n != before+1 {
			return fmt.Errorf("totalPatientsCreated = %d, want %d", n, before+1)
		}
		return nil
	})
	today := time.Now().UTC().Format("2006-01-02")
	var todayCount int64
	for _, d := range analyticsSummary(t).CreatedPerDay {
		if d.Date == today {
			todayCount = d.Count
		}
	}
	assert.Positive(t, todayCount, "today's bucket counts the patient")
}

func TestListIncludesCreatedPatient(t *testing.T) {
	created, _ := createPatient(t, newPatient("Listed Person"))
	r := do(t, http.MethodGet, gateway+"/patients?limit=100", nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	list := decodeAs[struct{ Items []patient }](t, r)
	assert.Contains(t, list.Items, created)

	r = do(t, http.MethodGet, gateway+"/patients?limit=1000", nil)
	require.Equal(t, http.StatusBadRequest, r.status)
	assert.Equal(t, "limit", decodeAs[problemDoc](t, r).Errors[0].Field)
}

func TestInvalidBodyListsEachBadField(t *testing.T) {
	r := do(t, http.MethodPost, gateway+"/patients", map[string]string{
		"name": "", "email": "not-an-email", "address": "", "dateOfBirth": "2001-02-30",
	})
	require.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
	assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
	p := decodeAs[problemDoc](t, r)
	fields := map[string]string{}
	for _, e := range p.Errors {
		fields[e.Field] = e.Message
	}
	assert.Equal(t, map[string]string{
		"name":        "is required",
		"email":       "must be an email address like name@example.com",
		"address":     "is required",
		"dateOfBirth": "must be a real date in the form YYYY-MM-DD",
	}, fields)

	cases := map[string]struct {
		body   string
		status int
		field  string
	}{
		"unknown field": {`{"name":"A","email":"a@example.com","address":"x","dateOfBirth":"1990-01-01","ssn":"1"}`, 400, "ssn"},
		"wrong type":    {`{"name":42,"email":"a@example.com","address":"x","dateOfBirth":"1990-01-01"}`, 400, "name"},
		"not json":      {`{"name":`, 400, ""},
		"array":         {`[]`, 400, ""},
		"future birth":  {`{"name":"A","email":"a@example.com","address":"x","dateOfBirth":"2999-01-01"}`, 400, "dateOfBirth"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := do(t, http.MethodPost, gateway+"/patients", tc.body)
			require.Equal(t, tc.status, r.status, "%s", r.body)
			p := decodeAs[problemDoc](t, r)
			if tc.field != "" {
				require.Len(t, p.Errors, 1)
				assert.Equal(t, tc.field, p.Errors[0].Field)
			}
		})
	}
}

func TestDuplicateEmailConflicts(t *testing.T) {
	body := newPatient("Dup Licate")
	createPatient(t, body)
	again := newPatient("Other Person")
	again["email"] = strings.ToUpper(body["email"])
	r := do(t, http.MethodPost, gateway+"/patients", again)
	require.Equal(t, http.StatusConflict, r.status, "%s", r.body)
	p := decodeAs[problemDoc](t, r)
	require.Len(t, p.Errors, 1)
	assert.Equal(t, "email", p.Errors[0].Field)

	list := decodeAs[struct{ Items []patient }](t, do(t, http.MethodGet, gateway+"/patients?limit=100", nil))
	for _, p := range list.Items {
		assert.NotEqual(t, "Other Person", p.Name, "the rejected patient must not be stored")
	}
}

func TestUnknownPatientIsNotFound(t *testing.T) {
	for _, id := range []string{"6f1c4a50-0000-4000-8000-000000000000", "not-a-uuid"} {
		r := do(t, http.MethodGet, gateway+"/patients/"+id, nil)
		assert.Equal(t, http.StatusNotFound, r.status, "%s: %s", id, r.body)
		assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
	}
}

// With billing-service down a registration still succeeds; once billing is
// back, the background reconciler opens the missing account.
func TestPatientCreatedDuringBillingOutageGetsAccount(t *testing.T) {
	require.NoError(t, sys.StopApp("billing-service"))
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			_ = sys.RestartApp(ctx, "billing-service")
		}
	})

	created, _ := createPatient(t, newPatient("Outage Patient"))
	assert.Empty(t, created.BillingAccountID, "billing is down, so no account yet")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	require.NoError(t, sys.RestartApp(ctx, "billing-service"))
	restarted = true

	var acct string
	wait.Until(t, 60*time.Second, "the patient gets a billing account", func() error {
		p := decodeAs[patient](t, do(t, http.MethodGet, gateway+"/patients/"+created.ID, nil))
		if p.BillingAccountID == "" {
			return fmt.Errorf("patient %s still has no billingAccountId", created.ID)
		}
		acct = p.BillingAccountID
		return nil
	})
	got, err := billingv1.NewBillingServiceClient(sidecarConn(t)).GetBillingAccount(toBilling(),
		&billingv1.GetBillingAccountRequest{PatientId: created.ID})
	require.NoError(t, err)
	assert.Equal(t, acct, got.GetAccount().GetAccountId())
}

func TestBillingRejectsBadInputWithGRPCCodes(t *testing.T) {
	ctx := toBilling()
	api := billingv1.NewBillingServiceClient(sidecarConn(t))
	// A test that stopped billing-service may have left patient-service's
	// circuit breaker open for a few seconds.
	wait.Until(t, 30*time.Second, "billing-service answers through patient-service's sidecar", func() error {
		_, err := api.CreateBillingAccount(ctx, &billingv1.CreateBillingAccountRequest{
			PatientId: uuid.NewString()})
		return err
	})

	_, err := api.CreateBillingAccount(ctx, &billingv1.CreateBillingAccountRequest{PatientId: "nope"})
	assert.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)

	_, err = api.GetBillingAccount(ctx, &billingv1.GetBillingAccountRequest{PatientId: "6f1c4a50-0000-4000-8000-000000000001"})
	assert.Equal(t, codes.NotFound, status.Code(err), "%v", err)

	req := &billingv1.CreateBillingAccountRequest{PatientId: "6f1c4a50-0000-4000-8000-000000000002"}
	first, err := api.CreateBillingAccount(ctx, req)
	require.NoError(t, err)
	second, err := api.CreateBillingAccount(ctx, req)
	require.NoError(t, err)
	assert.Equal(t, first.GetAccountId(), second.GetAccountId(), "creation is idempotent on patient id")
	assert.True(t, first.GetCreated())
	assert.False(t, second.GetCreated())
}

// The gateway answers problem+json, not a hang or a bare 500, when the app
// behind a route is down.
func TestGatewayReportsUnavailableTarget(t *testing.T) {
	require.NoError(t, sys.StopApp("analytics-service"))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		require.NoError(t, sys.RestartApp(ctx, "analytics-service"))
		require.NoError(t, waitRoutable(ctx), "the gateway reaches analytics-service again")
	})
	r := do(t, http.MethodGet, gateway+"/analytics/summary", nil)
	assert.Contains(t, []int{http.StatusBadGateway, http.StatusServiceUnavailable}, r.status, "%s", r.body)
	assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
	assert.Equal(t, r.status, decodeAs[problemDoc](t, r).Status)
}
