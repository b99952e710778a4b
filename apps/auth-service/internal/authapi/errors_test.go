package authapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/apps/auth-service/internal/authapi"
	"github.com/pms-dapr/pms/apps/auth-service/internal/identity"
	"github.com/pms-dapr/pms/platform/authn"
	"github.com/pms-dapr/pms/platform/httpserver"
)

// failing answers every call with err.
type failing struct{ err error }

func (f failing) Login(context.Context, string, string, string) (identity.Session, error) {
	return identity.Session{}, f.err
}
func (f failing) Refresh(context.Context, string) (identity.Session, error) {
	return identity.Session{}, f.err
}
func (f failing) Logout(context.Context, string) error { return f.err }
func (f failing) CreateUser(context.Context, identity.NewUser) (identity.User, error) {
	return identity.User{}, f.err
}
func (f failing) ListUsers(context.Context) ([]identity.User, error) { return nil, f.err }
func (f failing) UpdateUser(context.Context, string, identity.UserPatch) (identity.User, error) {
	return identity.User{}, f.err
}

// Each domain error answers its status, with Retry-After where the client
// should wait (a throttled login says how long, rounded up).
func TestDomainErrorsAnswerTheirProblems(t *testing.T) {
	for _, tc := range []struct {
		err        error
		path       string
		status     int
		retryAfter string
	}{
		{&identity.ThrottledError{RetryAfter: 41500 * time.Millisecond}, "/login", http.StatusTooManyRequests, "42"},
		{fmt.Errorf("login: %w", identity.ErrBusy), "/login", http.StatusServiceUnavailable, "1"},
		{identity.ErrBadCredentials, "/login", http.StatusUnauthorized, ""},
		{identity.ErrInvalidRefresh, "/refresh", http.StatusUnauthorized, ""},
		{fmt.Errorf("boom"), "/logout", http.StatusInternalServerError, ""},
	} {
		t.Run(fmt.Sprint(tc.status, tc.path), func(t *testing.T) {
			h := authapi.Routes(failing{tc.err}, nil, authapi.Config{Issuer: "http://x", AppAPIToken: "tok"},
				httpserver.Health{Log: slog.New(slog.DiscardHandler)}, slog.New(slog.DiscardHandler))
			body := `{"refreshToken":"r"}`
			if tc.path == "/login" {
				body = `{"email":"a@example.org","password":"correct horse battery"}`
			}
			req := httptest.NewRequest(http.MethodPost, tc.path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set(authn.APITokenHeader, "tok")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			assert.Equal(t, tc.status, rec.Code, rec.Body.String())
			assert.Equal(t, tc.retryAfter, rec.Header().Get("Retry-After"))
			var p struct{ Status int }
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
			assert.Equal(t, tc.status, p.Status)
		})
	}
}

// Each login attempt is counted by its outcome.
func TestLoginsAreCountedByOutcome(t *testing.T) {
	logins := authapi.NewLoginCounter()
	for _, err := range []error{nil, identity.ErrBadCredentials, identity.ErrBadCredentials, &identity.ThrottledError{RetryAfter: time.Second}, identity.ErrBusy} {
		h := authapi.Routes(failing{err}, nil, authapi.Config{Issuer: "http://x", AppAPIToken: "tok", Logins: logins},
			httpserver.Health{Log: slog.New(slog.DiscardHandler)}, slog.New(slog.DiscardHandler))
		req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(`{"email":"a@example.org","password":"correct horse battery"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(authn.APITokenHeader, "tok")
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	for outcome, want := range map[string]float64{"success": 1, "failure": 2, "throttled": 1, "busy": 1, "invalid": 0, "error": 0} {
		assert.Equal(t, want, testutil.ToFloat64(logins.WithLabelValues(outcome)), outcome)
	}
}
