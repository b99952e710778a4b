package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/tests/internal/wait"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	billingv1 "github.com/pms-dapr/pms/proto/billing/v1"
)

// Every path a client could use to reach around the gateway's routes: the
// gateway refuses each itself (400, 404 or 405, as problem+json) for every
// role, so no sidecar API ever answers, and no variant of the audit route
// reaches the any-role route.
func TestPathVariantsNeverReachASidecar(t *testing.T) {
	id, _ := createPatient(t, newPatient("Path Variant"))
	variants := []struct {
		method, path string
		want         int
	}{
		{"GET", "/patients/..%2Fv1.0%2Fmetadata", 400},
		{"GET", "/patients/..%2fv1.0%2fhealthz", 400},
		{"PUT", "/patients/..%2Fv1.0%2Fstate%2Fstatestore", 400},
		{"GET", "/patients/../v1.0/metadata", 400},
		{"GET", "/patients/%2E%2E/v1.0/metadata", 400},
		{"GET", "/patients/.%2E/v1.0/metadata", 400},
		{"GET", "/patients/..%5Cv1.0%5Cmetadata", 400},
		{"GET", `/patients/..\v1.0\metadata`, 400},
		{"GET", "/patients/" + id.ID + "%2Faudit", 400},
		{"GET", "/patients/" + id.ID + "/audit/", 400},
		{"GET", "/patients/" + id.ID + "/audit/.", 400},
		{"GET", "/patients/" + id.ID + "/./audit", 400},
		{"GET", "/patients/" + id.ID + "//audit", 400},
		{"GET", "/patients/x/../" + id.ID + "/audit", 400},
		{"GET", "/patients/" + id.ID + "/", 400},
		{"GET", "//patients/" + id.ID, 400},
		{"GET", "/patients/%00", 400},
		{"GET", "/patients/%0D%0Ax", 400},
		{"GET", "/patients/" + id.ID + "/AUDIT", 404},
		{"GET", "/patients/" + id.ID + "/Audit", 404},
		{"GET", "/PATIENTS/" + id.ID, 404},
		{"GET", "/patients/%FF", 404},
		{"GET", "/patients/%C0%AF", 404},
		{"GET", "/patients/not-a-uuid", 404},
		{"GET", "/v1.0/metadata", 404},
		{"GET", "/v1.0/healthz", 404},
		{"POST", "/v1.0/publish/pubsub/patient", 404},
		{"GET", "/v1.0/invoke/patient-service/method/patients", 404},
		{"GET", "/analytics/summary/../../v1.0/metadata", 400},
		{"POST", "/patients/" + id.ID, 405},
		{"GET", "/auth/users/" + id.ID, 405},
	}
	tokens := map[string]string{"admin": adminToken}
	for _, role := range []string{"clinician", "billing"} {
		s, status, err := login(createUser(t, role), userPassword)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status)
		tokens[role] = s.AccessToken
	}
	for role, tok := range tokens {
		for _, v := range variants {
			r := doAs(t, tok, v.method, gateway+v.path, nil)
			assert.Equal(t, v.want, r.status, "%s %s as %s: %s", v.method, v.path, role, r.body)
			assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"), "%s %s", v.method, v.path)
			assert.NotContains(t, string(r.body), "errorCode", "%s %s: a sidecar answered", v.method, v.path)
		}
		// A method-override header does not turn a read into a delete.
		r := doAs(t, tok, http.MethodPost, gateway+"/patients/"+id.ID, nil, "X-HTTP-Method-Override", "DELETE")
		assert.Equal(t, http.StatusMethodNotAllowed, r.status, role)
	}
	assert.Equal(t, http.StatusOK, do(t, http.MethodGet, gateway+"/patients/"+id.ID, nil).status, "the record is still there")
}

// The gateway's sidecar serves service invocation and healthz only, over
// HTTP and gRPC alike, even to a caller holding its Dapr API token.
func TestGatewaySidecarServesOnlyInvocation(t *testing.T) {
	gw := sys.App("api-gateway")
	hdr := []string{"dapr-api-token", gw.DaprAPIToken}
	for _, p := range [][2]string{{"GET", "/v1.0/metadata"}, {"POST", "/v1.0/publish/pubsub/patient"},
		{"GET", "/v1.0/secrets/kubernetes/x"}, {"GET", "/v1.0/state/statestore/x"}, {"POST", "/v1.0/shutdown"}} {
		r := doAs(t, "", p[0], gw.SidecarHTTP()+p[1], nil, hdr...)
		assert.Contains(t, []int{http.StatusNotFound, http.StatusMethodNotAllowed}, r.status, "%s %s: %s", p[0], p[1], r.body)
	}
	assert.Equal(t, http.StatusNoContent, doAs(t, "", http.MethodGet, gw.SidecarHTTP()+"/v1.0/healthz", nil).status)

	conn, err := grpc.NewClient(gw.SidecarGRPC(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	api := runtimev1.NewDaprClient(conn)
	ctx := metadata.AppendToOutgoingContext(context.Background(), "dapr-api-token", gw.DaprAPIToken)
	_, err = api.GetMetadata(ctx, &runtimev1.GetMetadataRequest{})
	assert.Equal(t, codes.Unimplemented, status.Code(err), "gRPC metadata: %v", err)
	_, err = api.PublishEvent(ctx, &runtimev1.PublishEventRequest{PubsubName: "pubsub", Topic: "patient", Data: []byte("{}")})
	assert.Equal(t, codes.Unimplemented, status.Code(err), "gRPC publish: %v", err)
}

// A caller without a workload certificate from this run's Sentry cannot
// talk to any sidecar's internal (sidecar-to-sidecar) port: not in plain
// text, and not over TLS without a client certificate.
func TestSidecarInternalPortsNeedAWorkloadCertificate(t *testing.T) {
	for _, a := range sys.Apps() {
		addr := fmt.Sprintf("127.0.0.1:%d", a.DaprInternalGRPCPort)
		for name, creds := range map[string]credentials.TransportCredentials{
			"plain text":          insecure.NewCredentials(),
			"TLS, no client cert": credentials.NewTLS(&tls.Config{InsecureSkipVerify: true}), //nolint:gosec // the point of the test
		} {
			conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err = conn.Invoke(ctx, "/dapr.proto.internals.v1.ServiceInvocation/CallLocal", &emptypb.Empty{}, &emptypb.Empty{})
			cancel()
			conn.Close()
			assert.Equal(t, codes.Unavailable, status.Code(err), "%s %s: %v", a.ID, name, err)
		}
	}
}

// Access control: only the app-ids and operations a sidecar's policy names
// may invoke its app; the sidecar's own identity decides, not a header.
func TestAccessControlRefusesUnlistedCallers(t *testing.T) {
	analytics := sys.App("analytics-service")
	conn, err := grpc.NewClient(analytics.SidecarGRPC(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	ctx := metadata.AppendToOutgoingContext(context.Background(),
		"dapr-app-id", "billing-service", "dapr-api-token", analytics.DaprAPIToken)
	_, err = billingv1.NewBillingServiceClient(conn).GetBillingAccount(ctx,
		&billingv1.GetBillingAccountRequest{PatientId: uuid.NewString()})
	assert.Equal(t, codes.PermissionDenied, status.Code(err), "analytics → billing: %v", err)

	r := doAs(t, adminToken, http.MethodGet, analytics.SidecarHTTP()+"/patients", nil,
		"dapr-app-id", "patient-service", "dapr-api-token", analytics.DaprAPIToken)
	assert.Equal(t, http.StatusForbidden, r.status, "analytics → patient-service: %s", r.body)
	r = doAs(t, adminToken, http.MethodGet, sys.App("patient-service").SidecarHTTP()+"/analytics/summary", nil,
		"dapr-app-id", "analytics-service", "dapr-api-token", sys.App("patient-service").DaprAPIToken)
	assert.Equal(t, http.StatusForbidden, r.status, "patient-service → analytics: %s", r.body)

	// What the policies allow works: patient-service → billing-service.
	_, err = billingv1.NewBillingServiceClient(sidecarConn(t)).GetBillingAccount(toBilling(),
		&billingv1.GetBillingAccountRequest{PatientId: uuid.NewString()})
	assert.Equal(t, codes.NotFound, status.Code(err), "patient-service → billing: %v", err)
}

// Topic scopes: billing-service's sidecar has the pubsub component but may
// not publish patient events, nor patient-service billing events, and no
// sidecar may publish on another topic. (analytics-service may publish on
// both: it redrives dead letters; TestDeadLetterRedrive.)
func TestTopicScopes(t *testing.T) {
	err := publishVia(t, "billing-service", "patient", []byte(`{}`))
	assert.Error(t, err, "billing-service publishing on patient")
	err = publishVia(t, "patient-service", "billing", []byte(`{}`))
	assert.Error(t, err, "patient-service publishing on billing")
	err = publishVia(t, "patient-service", "another-topic", []byte(`{}`))
	assert.Error(t, err, "a topic outside allowedTopics")
	err = publishVia(t, "patient-service", deadLetterTopic, []byte(`{}`))
	assert.Error(t, err, "patient-service publishing on the dead-letter topic")
}

// A Kafka consumer of the patient topic sees identifiers and de-identified
// attributes only: none of a registered patient's details.
func TestEventsCarryNoPHI(t *testing.T) {
	body := newPatient("Zebulon Quixote")
	body["phone"] = "+1 555 0199 321"
	body["dateOfBirth"] = "1937-03-14"
	body["address"] = "77 Obscure Lane, Nowhere"
	body["gender"] = "male"
	p, _ := createPatient(t, body)
	r := doAs(t, adminToken, http.MethodPatch, gateway+"/patients/"+p.ID, map[string]string{"address": "78 Obscure Lane, Nowhere"},
		"If-Match", fmt.Sprintf(`"%d"`, p.Version), "Content-Type", "application/merge-patch+json")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)

	details := []string{body["name"], body["email"], body["phone"], body["dateOfBirth"], "77 Obscure Lane", "78 Obscure Lane", p.MRN}
	allowed := map[string]bool{"eventId": true, "type": true, "occurredAt": true, "version": true, "patientId": true, "attributes": true}
	wait.Until(t, 10*time.Second, "the patient's events are on the topic", func() error {
		seen := 0
		for _, rec := range topicRecords(t, "patient") {
			for _, d := range details {
				require.NotContains(t, string(rec.Value), d, "an event carries a patient's details")
			}
			var ce struct {
				Type string                     `json:"type"`
				Data map[string]json.RawMessage `json:"data"`
			}
			if json.Unmarshal(rec.Value, &ce) != nil || ce.Data == nil {
				continue // a malformed test event
			}
			events := []map[string]json.RawMessage{ce.Data}
			if ce.Type == "pms.patient.v1.PatientEventBatch" { // an import's events, packed
				events = nil
				require.Len(t, ce.Data, 1, "a batch holds its events alone")
				require.NoError(t, json.Unmarshal(ce.Data["events"], &events))
				require.NotEmpty(t, events)
			}
			for _, ev := range events {
				for k := range ev {
					assert.True(t, allowed[k], "event field %q", k)
				}
				if strings.Contains(string(ev["patientId"]), p.ID) {
					seen++
					assert.JSONEq(t, `{"ageBand":"65-89","gender":"male"}`, string(ev["attributes"]))
				}
			}
		}
		if seen < 2 {
			return fmt.Errorf("%d of 2 events seen", seen)
		}
		return nil
	})
}

// After registering, searching for and reading a patient, no log of any
// app, sidecar or Sentry holds the patient's details.
func TestLogsCarryNoPHI(t *testing.T) {
	body := newPatient("Ottoline Varga")
	body["phone"] = "+44 20 7946 0321"
	body["dateOfBirth"] = "1941-07-19"
	body["address"] = "12 Hidden Mews, Elsewhere"
	p, _ := createPatient(t, body)
	for _, q := range []string{"name=Ottoline", "email=" + body["email"], "q=Varga", "mrn=" + p.MRN} {
		require.Equal(t, http.StatusOK, do(t, http.MethodGet, gateway+"/patients?"+q, nil).status, q)
	}
	require.Equal(t, http.StatusOK, do(t, http.MethodGet, gateway+"/patients/"+p.ID, nil).status)
	time.Sleep(2 * time.Second) // let the events and the log lines land

	var logs []string
	for _, a := range sys.Apps() {
		files, err := filepath.Glob(filepath.Join(a.LogDir, "*.log"))
		require.NoError(t, err)
		logs = append(logs, files...)
	}
	logs = append(logs, filepath.Join(sys.Root(), ".data", "sentry", "sentry.log"))
	require.Greater(t, len(logs), 10)
	for _, f := range logs {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, d := range []string{body["name"], "Ottoline", "Varga", body["email"], body["phone"], body["dateOfBirth"], "Hidden Mews", p.MRN} {
			assert.NotContains(t, string(raw), d, "%s holds a patient's details", f)
		}
	}
}
