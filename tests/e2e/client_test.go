package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
)

// patient is the gateway's representation of a patient.
type patient struct {
	ID               string `json:"id"`
	MRN              string `json:"mrn"`
	Name             string `json:"name"`
	Email            string `json:"email"`
	Phone            string `json:"phone"`
	Gender           string `json:"gender"`
	Address          string `json:"address"`
	DateOfBirth      string `json:"dateOfBirth"`
	RegisteredDate   string `json:"registeredDate"`
	BillingAccountID string `json:"billingAccountId"`
	Version          int64  `json:"version"`
	CreatedAt        string `json:"createdAt"`
	UpdatedAt        string `json:"updatedAt"`
	DeletedAt        string `json:"deletedAt"`
}

type problemDoc struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

type response struct {
	status int
	header http.Header
	body   []byte
}

var httpClient = &http.Client{Timeout: 30 * time.Second}

// do sends a request as the development admin.
func do(t *testing.T, method, url string, body any) response {
	t.Helper()
	return doAs(t, adminToken, method, url, body)
}

// doAs sends a request with token as its bearer token ("" sends none).
func doAs(t *testing.T, token, method, url string, body any, headers ...string) response {
	t.Helper()
	return doFrom(t, httpClient, token, method, url, body, headers...)
}

// clientFrom returns an HTTP client whose connections come from ip, another
// address of the loopback range: the gateway sees a different client.
func clientFrom(ip string) *http.Client {
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: dialer.DialContext}}
}

// doFrom is doAs over client.
func doFrom(t *testing.T, client *http.Client, token, method, url string, body any, headers ...string) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, url, rd)
	require.NoError(t, err)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	var sent []byte
	if rd != nil {
		sent, _ = io.ReadAll(rd)
		req.Body = io.NopCloser(bytes.NewReader(sent))
	}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	record(req, sent, resp, raw)
	return response{status: resp.StatusCode, header: resp.Header, body: raw}
}

func decodeAs[T any](t *testing.T, r response) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(r.body, &v), "body: %s", r.body)
	return v
}

var seq atomic.Int64

// newPatient returns a valid patient body with a unique email.
func newPatient(name string) map[string]string {
	n := seq.Add(1)
	return map[string]string{
		"name":        name,
		"email":       fmt.Sprintf("%s.%d.%d@example.com", strings.ToLower(strings.ReplaceAll(name, " ", ".")), time.Now().UnixNano(), n),
		"address":     "1 Test Street, Springfield",
		"dateOfBirth": "1980-02-29",
	}
}

func createPatient(t *testing.T, body map[string]string) (patient, response) {
	t.Helper()
	r := do(t, http.MethodPost, gateway+"/patients", body)
	require.Equal(t, http.StatusCreated, r.status, "create: %s", r.body)
	return decodeAs[patient](t, r), r
}

// sidecarConn is a gRPC connection to patient-service's sidecar, used to
// reach billing-service the way patient-service does.
func sidecarConn(t *testing.T) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(sys.App("patient-service").SidecarGRPC(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return conn
}

// toBilling is a context addressing billing-service through
// patient-service's sidecar, with that sidecar's API token.
func toBilling() context.Context {
	return metadata.AppendToOutgoingContext(context.Background(),
		"dapr-app-id", "billing-service", "dapr-api-token", sys.App("patient-service").DaprAPIToken)
}

type session struct {
	AccessToken  string `json:"accessToken"`
	TokenType    string `json:"tokenType"`
	ExpiresIn    int    `json:"expiresIn"`
	RefreshToken string `json:"refreshToken"`
}

func login(email, password string) (session, int, error) {
	raw, _ := json.Marshal(map[string]string{"email": email, "password": password})
	req, err := http.NewRequest(http.MethodPost, gateway+"/auth/login", bytes.NewReader(raw))
	if err != nil {
		return session{}, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient.Do(req)
	if err != nil {
		return session{}, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return session{}, 0, err
	}
	record(req, raw, resp, body)
	var s session
	if resp.StatusCode == http.StatusOK {
		err = json.Unmarshal(body, &s)
	}
	return s, resp.StatusCode, err
}

type summary struct {
	TotalPatientsCreated int64 `json:"totalPatientsCreated"`
	TotalUpdates         int64 `json:"totalUpdates"`
	TotalPatientsDeleted int64 `json:"totalPatientsDeleted"`
	CurrentPatients      int64 `json:"currentPatients"`
	CreatedPerDay        []struct {
		Date  string `json:"date"`
		Count int64  `json:"count"`
	} `json:"createdPerDay"`
}

func analyticsSummary(t *testing.T) summary {
	t.Helper()
	r := do(t, http.MethodGet, gateway+"/analytics/summary", nil)
	require.Equal(t, http.StatusOK, r.status, "summary: %s", r.body)
	return decodeAs[summary](t, r)
}

// settledSummary returns the summary once events of earlier tests have
// stopped arriving (unchanged for a second), so a test can count its own.
func settledSummary(t *testing.T) summary {
	t.Helper()
	last := analyticsSummary(t)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(time.Second)
		now := analyticsSummary(t)
		if now.TotalPatientsCreated == last.TotalPatientsCreated && now.TotalUpdates == last.TotalUpdates &&
			now.TotalPatientsDeleted == last.TotalPatientsDeleted {
			return now
		}
		last = now
	}
	t.Fatalf("analytics did not settle within a minute: %+v", last)
	return last
}
