package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/tests/internal/wait"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/pms-dapr/pms/platform/authn/authntest"
	billingv1 "github.com/pms-dapr/pms/proto/billing/v1"
)

const userPassword = "e2e password that is long"

// createUser makes an account through the gateway as the admin.
func createUser(t *testing.T, role string) string {
	t.Helper()
	email := fmt.Sprintf("%s.%d@example.com", role, time.Now().UnixNano())
	r := do(t, http.MethodPost, gateway+"/auth/users", map[string]string{"email": email, "password": userPassword, "role": role})
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	return email
}

func TestLoginIssuesTokensAndFailuresLookAlike(t *testing.T) {
	email := createUser(t, "clinician")
	s, status, err := login(email, userPassword)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "Bearer", s.TokenType)
	assert.Equal(t, 900, s.ExpiresIn)
	assert.Len(t, strings.Split(s.AccessToken, "."), 3)
	assert.NotEmpty(t, s.RefreshToken)

	wrong := doAs(t, "", http.MethodPost, gateway+"/auth/login", map[string]string{"email": email, "password": "not the password!"})
	unknown := doAs(t, "", http.MethodPost, gateway+"/auth/login", map[string]string{"email": "nobody@example.com", "password": "not the password!"})
	require.Equal(t, http.StatusUnauthorized, wrong.status)
	require.Equal(t, http.StatusUnauthorized, unknown.status)
	pw, pu := decodeAs[problemDoc](t, wrong), decodeAs[problemDoc](t, unknown)
	assert.Equal(t, pw, pu, "same answer for a wrong password and an unknown email")

	bad := doAs(t, "", http.MethodPost, gateway+"/auth/login", `{"email":`)
	assert.Equal(t, http.StatusBadRequest, bad.status)

	jwks := doAs(t, "", http.MethodGet, gateway+"/auth/.well-known/jwks.json", nil)
	require.Equal(t, http.StatusOK, jwks.status)
	assert.Contains(t, string(jwks.body), `"kid"`)
	oidc := decodeAs[map[string]any](t, doAs(t, "", http.MethodGet, gateway+"/auth/.well-known/openid-configuration", nil))
	assert.Equal(t, "http://localhost:4004/auth", oidc["issuer"])
}

// devSigner signs with the development key auth-service uses, so tests can
// make tokens that differ from real ones in exactly one respect.
func devSigner(t *testing.T) *authntest.Signer {
	t.Helper()
	key, err := loadPEMKey(filepath.Join(sys.Root(), "apps", "auth-service", ".dapr", "dev-signing-key.pem"))
	require.NoError(t, err)
	s, err := authntest.FromKey(key, "http://localhost:4004/auth", "pms-api")
	require.NoError(t, err)
	return s
}

func TestForgedTokensNeverReachPatientService(t *testing.T) {
	signer := devSigner(t)
	ok := doAs(t, signer.Token(authntest.Claims{Role: "clinician"}), http.MethodGet, gateway+"/patients", nil)
	require.Equal(t, http.StatusOK, ok.status, "a token made with the real key works: the forgeries differ only where named")

	var ids []string
	forgeries := signer.Forgeries()
	forgeries["none"] = ""
	for name, tok := range forgeries {
		for _, route := range [][2]string{{"GET", "/patients"}, {"POST", "/patients"}, {"GET", "/analytics/summary"}} {
			id := fmt.Sprintf("forged-%d-%d", time.Now().UnixNano(), len(ids))
			ids = append(ids, id)
			r := doAs(t, tok, route[0], gateway+route[1], newPatient("Forged"), "X-Request-Id", id)
			assert.Equal(t, http.StatusUnauthorized, r.status, "%s token on %s %s: %s", name, route[0], route[1], r.body)
		}
	}
	// The control: a request that does reach patient-service is logged
	// with the id the client chose (client_request_id).
	control := fmt.Sprintf("genuine-%d", time.Now().UnixNano())
	require.Equal(t, http.StatusOK, doAs(t, adminToken, http.MethodGet, gateway+"/patients", nil, "X-Request-Id", control).status)
	time.Sleep(200 * time.Millisecond)
	logs := appLogs(t, "patient-service") + appLogs(t, "analytics-service")
	assert.Contains(t, logs, `"client_request_id":"`+control+`"`, "a request that reached patient-service is in its log")
	for _, id := range ids {
		assert.NotContains(t, logs, id, "a forged request reached a service")
	}
}

// patient-service verifies the forwarded token itself: invoked through a
// sidecar without the gateway in front, it refuses a token that is not an
// access token (typ) or never expires, although both are signed with the
// real key.
func TestPatientServiceRefusesNonAccessTokensItself(t *testing.T) {
	signer := devSigner(t)
	gw := sys.App("api-gateway")
	invoke := func(tok string) response {
		return doAs(t, tok, http.MethodGet, gw.SidecarHTTP()+"/patients",
			nil, "dapr-app-id", "patient-service", "dapr-api-token", gw.DaprAPIToken)
	}
	require.Equal(t, http.StatusOK, invoke(signer.Token(authntest.Claims{Role: "clinician"})).status, "the control: a real access token works")
	forgeries := signer.Forgeries()
	for _, name := range []string{"typ JWT", "no exp"} {
		r := invoke(forgeries[name])
		assert.Equal(t, http.StatusUnauthorized, r.status, "%s: %s", name, r.body)
	}
}

// appLogs returns everything app id has logged this run.
func appLogs(t *testing.T, id string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(sys.App(id).LogDir, id+"_app_*.log"))
	require.NoError(t, err)
	var b strings.Builder
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		b.Write(raw)
	}
	return b.String()
}

func TestRolesDecideWhoMayDoWhat(t *testing.T) {
	clin, status, err := login(createUser(t, "clinician"), userPassword)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)

	created := doAs(t, clin.AccessToken, http.MethodPost, gateway+"/patients", newPatient("Clinician Made"))
	require.Equal(t, http.StatusCreated, created.status, "%s", created.body)
	p := decodeAs[patient](t, created)
	assert.Equal(t, http.StatusOK, doAs(t, clin.AccessToken, http.MethodGet, gateway+"/patients/"+p.ID, nil).status)
	assert.Equal(t, http.StatusForbidden, doAs(t, clin.AccessToken, http.MethodDelete, gateway+"/patients/"+p.ID, nil).status)
	assert.Equal(t, http.StatusForbidden, doAs(t, clin.AccessToken, http.MethodGet, gateway+"/analytics/summary", nil).status)
	assert.Equal(t, http.StatusForbidden, doAs(t, clin.AccessToken, http.MethodGet, gateway+"/auth/users", nil).status)

	assert.Equal(t, http.StatusOK, do(t, http.MethodGet, gateway+"/analytics/summary", nil).status)
	assert.Equal(t, http.StatusOK, do(t, http.MethodGet, gateway+"/auth/users", nil).status)
	del := do(t, http.MethodDelete, gateway+"/patients/"+p.ID, nil)
	assert.NotContains(t, []int{http.StatusUnauthorized, http.StatusForbidden}, del.status, "an admin's delete passes the gateway")
	trail := do(t, http.MethodGet, gateway+"/patients/"+p.ID+"/audit", nil)
	require.Equal(t, http.StatusOK, trail.status)
	assert.Contains(t, string(trail.body), `"userId":"`+tokenSubject(t, clin.AccessToken)+`"`,
		"patient-service records who acted, from the verified token")
}

func TestRefreshTokenWorksOnceAndReuseRevokesItsFamily(t *testing.T) {
	s, status, err := login(createUser(t, "billing"), userPassword)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	first := doAs(t, "", http.MethodPost, gateway+"/auth/refresh", map[string]string{"refreshToken": s.RefreshToken})
	require.Equal(t, http.StatusOK, first.status, "%s", first.body)
	next := decodeAs[session](t, first)
	assert.Equal(t, http.StatusOK, doAs(t, next.AccessToken, http.MethodGet, gateway+"/patients", nil).status)

	again := doAs(t, "", http.MethodPost, gateway+"/auth/refresh", map[string]string{"refreshToken": s.RefreshToken})
	assert.Equal(t, http.StatusUnauthorized, again.status, "a refresh token works once")
	later := doAs(t, "", http.MethodPost, gateway+"/auth/refresh", map[string]string{"refreshToken": next.RefreshToken})
	assert.Equal(t, http.StatusUnauthorized, later.status, "reuse revoked the whole family")
}

func TestNothingAnswersAroundTheSidecars(t *testing.T) {
	// patient-service's own port, with a perfectly good user token.
	direct := doAs(t, adminToken, http.MethodGet, "http://127.0.0.1:4000/patients", nil)
	assert.Equal(t, http.StatusUnauthorized, direct.status, "%s", direct.body)
	analytics := doAs(t, adminToken, http.MethodGet, "http://127.0.0.1:4002/analytics/summary", nil)
	assert.Equal(t, http.StatusUnauthorized, analytics.status)
	inject := doAs(t, "", http.MethodPost, "http://127.0.0.1:4002/events/patient", `{"data":{}}`)
	assert.Equal(t, http.StatusUnauthorized, inject.status)

	// billing-service's gRPC port, without the sidecar's app token.
	conn, err := grpc.NewClient("127.0.0.1:9001", grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	_, err = billingv1.NewBillingServiceClient(conn).GetBillingAccount(context.Background(),
		&billingv1.GetBillingAccountRequest{PatientId: "6f1c4a50-0000-4000-8000-000000000000"})
	assert.Equal(t, codes.Unauthenticated, status.Code(err), "%v", err)

	// Sidecar APIs without the Dapr API token.
	for _, app := range []string{"api-gateway", "patient-service", "billing-service"} {
		base := sys.App(app).SidecarHTTP()
		r := doAs(t, "", http.MethodGet, base+"/v1.0/metadata", nil)
		assert.Equal(t, http.StatusUnauthorized, r.status, "%s metadata", app)
		r = doAs(t, adminToken, http.MethodGet, base+"/v1.0/invoke/patient-service/method/patients", nil)
		assert.Equal(t, http.StatusUnauthorized, r.status, "%s invoke", app)
	}
	pub := doAs(t, "", http.MethodPost, sys.App("patient-service").SidecarHTTP()+"/v1.0/publish/pubsub/patient", `{}`)
	assert.Equal(t, http.StatusUnauthorized, pub.status)
	ctx := metadata.AppendToOutgoingContext(context.Background(), "dapr-app-id", "billing-service")
	_, err = billingv1.NewBillingServiceClient(sidecarConn(t)).GetBillingAccount(ctx,
		&billingv1.GetBillingAccountRequest{PatientId: "6f1c4a50-0000-4000-8000-000000000000"})
	assert.Equal(t, codes.Unauthenticated, status.Code(err), "the sidecar's gRPC API needs its token too: %v", err)
}

// With auth-service down when the gateway starts, the gateway is not ready
// and lets nothing through; once auth-service is up it starts working by
// itself.
func TestGatewayWaitsForKeysAndNeverFailsOpen(t *testing.T) {
	require.NoError(t, sys.StopApp("auth-service"))
	require.NoError(t, sys.StopApp("api-gateway"))
	t.Cleanup(func() { // leave both up and ready for the tests after this one
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		for _, id := range []string{"auth-service", "api-gateway"} {
			if !sys.App(id).Running() {
				_ = sys.StartApp(id)
			}
		}
		_ = sys.WaitReady(ctx, "auth-service", "api-gateway")
		_ = waitRoutable(ctx)
	})
	require.NoError(t, sys.StartApp("api-gateway"))
	wait.Until(t, 30*time.Second, "the gateway process serves", func() error {
		resp, err := httpClient.Get(gateway + "/healthz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
	time.Sleep(2 * time.Second) // give it time to fail fetching the keys
	assert.Equal(t, http.StatusServiceUnavailable, doAs(t, "", http.MethodGet, gateway+"/readyz", nil).status)
	for _, tok := range []string{adminToken, "", devSigner(t).Forgeries()["alg none"]} {
		r := doAs(t, tok, http.MethodGet, gateway+"/patients", nil)
		assert.Equal(t, http.StatusServiceUnavailable, r.status, "nothing passes while keys are unknown: %s", r.body)
	}

	require.NoError(t, sys.StartApp("auth-service"))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	require.NoError(t, sys.WaitReady(ctx, "auth-service", "api-gateway"), "the gateway becomes ready without a restart")
	assert.Equal(t, http.StatusOK, do(t, http.MethodGet, gateway+"/patients", nil).status)
	assert.Equal(t, http.StatusUnauthorized, doAs(t, "", http.MethodGet, gateway+"/patients", nil).status)
}

// The failed logins come from a loopback address of their own, which they
// leave throttled for a minute: every other test, in any order, logs in
// from 127.0.0.1.
func TestLoginThrottling(t *testing.T) {
	email := createUser(t, "clinician")
	stranger := clientFrom("127.0.0.2")
	for i := range 5 {
		r := doFrom(t, stranger, "", http.MethodPost, gateway+"/auth/login", map[string]string{"email": email, "password": "guess number " + strconv.Itoa(i)})
		require.Equal(t, http.StatusUnauthorized, r.status, "attempt %d: %s", i+1, r.body)
	}
	r := doFrom(t, stranger, "", http.MethodPost, gateway+"/auth/login", map[string]string{"email": email, "password": userPassword})
	require.Equal(t, http.StatusTooManyRequests, r.status, "the sixth rapid attempt is throttled, right password or not")
	wait, err := strconv.Atoi(r.header.Get("Retry-After"))
	require.NoError(t, err)
	assert.InDelta(t, 60, wait, 10)
}

// A burst of wrong passwords for the admin account from one client does
// not keep the admin, at another address, from signing in: the account's
// lock is soft. (Both addresses are this test's own.)
func TestAccountBurstDoesNotLockTheOwnerOut(t *testing.T) {
	attacker, owner := clientFrom("127.0.0.4"), clientFrom("127.0.0.5")
	for i := range 6 {
		r := doFrom(t, attacker, "", http.MethodPost, gateway+"/auth/login",
			map[string]string{"email": sys.AdminEmail, "password": "guess number " + strconv.Itoa(i)})
		require.Contains(t, []int{http.StatusUnauthorized, http.StatusTooManyRequests}, r.status, "attempt %d: %s", i+1, r.body)
	}
	r := doFrom(t, attacker, "", http.MethodPost, gateway+"/auth/login",
		map[string]string{"email": sys.AdminEmail, "password": sys.AdminPassword})
	assert.Equal(t, http.StatusTooManyRequests, r.status, "the guessing client waits, right password or not")
	r = doFrom(t, owner, "", http.MethodPost, gateway+"/auth/login",
		map[string]string{"email": sys.AdminEmail, "password": sys.AdminPassword})
	assert.Equal(t, http.StatusOK, r.status, "the admin gets in from another address: %s", r.body)
}
