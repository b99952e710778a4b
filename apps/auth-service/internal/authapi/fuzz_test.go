package authapi_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pms-dapr/pms/apps/auth-service/internal/authapi"
	"github.com/pms-dapr/pms/apps/auth-service/internal/identity"
	"github.com/pms-dapr/pms/apps/auth-service/internal/signing"
	"github.com/pms-dapr/pms/platform/httpserver"
	"github.com/pms-dapr/pms/platform/validation"
)

// errRefusedByPostgres stands for PostgreSQL's refusal of text it cannot
// store (NUL, invalid UTF-8), which the handlers would answer 500.
var errRefusedByPostgres = errors.New("fake: PostgreSQL refuses this text")

func refused(texts ...string) error {
	for _, s := range texts {
		if validation.Unstorable(s) {
			return errRefusedByPostgres
		}
	}
	return nil
}

// memStore keeps users in memory and refuses what PostgreSQL refuses.
type memStore struct {
	mu    sync.Mutex
	users map[string]identity.User
}

func (m *memStore) UserByEmail(_ context.Context, email string) (identity.User, error) {
	if err := refused(email); err != nil {
		return identity.User{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, u := range m.users {
		if u.Email == email {
			return u, nil
		}
	}
	return identity.User{}, identity.ErrNotFound
}

func (m *memStore) UserByID(_ context.Context, id string) (identity.User, error) {
	if err := refused(id); err != nil {
		return identity.User{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if u, ok := m.users[id]; ok {
		return u, nil
	}
	return identity.User{}, identity.ErrNotFound
}

func (m *memStore) CreateUser(_ context.Context, u identity.User) error {
	if err := refused(u.Email, u.Role); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.users[u.ID] = u
	return nil
}

func (m *memStore) ListUsers(context.Context) ([]identity.User, error) { return nil, nil }

func (m *memStore) UpdateUser(_ context.Context, id string, _ identity.UserPatch, _ time.Time) (identity.User, error) {
	if err := refused(id); err != nil {
		return identity.User{}, err
	}
	return identity.User{}, identity.ErrNotFound
}

func (m *memStore) CreateRefresh(context.Context, identity.RefreshToken) error { return nil }

func (m *memStore) RotateRefresh(context.Context, []byte, time.Time, identity.RefreshToken) (string, error) {
	return "", identity.ErrInvalidRefresh
}

func (m *memStore) RevokeFamily(context.Context, []byte, time.Time) error { return nil }

const appToken = "app-token-for-tests"

// FuzzAuthBodies sends arbitrary login, refresh, logout and user bodies
// to the real handlers and identity service over a store that refuses
// what PostgreSQL refuses: every answer is 2xx or 4xx, never 5xx.
// `go test` runs the seeds; `go test -fuzz FuzzAuthBodies` explores.
func FuzzAuthBodies(f *testing.F) {
	for _, seed := range []string{
		`{"email":"admin@pms.local","password":"a long enough password"}`,
		`{"email":"a\u0000@b.c","password":"x"}`,
		"{\"email\":\"a\xff@b.c\",\"password\":\"x\"}",
		`{"email":"a@b.c","password":"\u0000"}`,
		`{"refreshToken":"\u0000"}`,
		`{"email":"new@example.com","password":"a long enough password","role":"clinician"}`,
		`{"email":"\u202eevil@example.com","password":"a long enough password","role":"admin"}`,
		`{"role":"root","disabled":"yes"}`, `{}`, `[]`, `null`, ``,
	} {
		f.Add(seed, "6f1c4a50-0000-4000-8000-0000000000aa")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	keys, err := signing.New(key, nil, "http://localhost:4004/auth", "pms-api")
	if err != nil {
		f.Fatal(err)
	}
	svc, err := identity.NewService(&memStore{users: map[string]identity.User{}}, keys,
		identity.Options{Hash: identity.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}, RefreshTTL: time.Hour,
			Throttle: identity.NewThrottle(1000, time.Minute)})
	if err != nil {
		f.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := authapi.Routes(svc, keys, authapi.Config{Issuer: "http://localhost:4004/auth", AppAPIToken: appToken}, httpserver.Health{Log: log}, log)
	admin, _, err := keys.Sign(identity.User{ID: "6f1c4a50-0000-4000-8000-0000000000ab", Email: "admin@pms.local", Role: "admin"}, time.Now())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body, id string) {
		for _, req := range []struct{ method, path string }{
			{http.MethodPost, "/login"}, {http.MethodPost, "/refresh"}, {http.MethodPost, "/logout"},
			{http.MethodPost, "/users"}, {http.MethodPatch, "/users/" + url.PathEscape(id)},
		} {
			r := httptest.NewRequest(req.method, "http://auth"+req.path, strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("dapr-api-token", appToken)
			r.Header.Set("Authorization", "Bearer "+admin)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code < 200 || rec.Code >= 500 {
				t.Fatalf("%s %s %q: %d %s", req.method, req.path, body, rec.Code, rec.Body.String())
			}
		}
	})
}
