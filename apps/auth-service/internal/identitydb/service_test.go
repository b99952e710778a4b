package identitydb_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/apps/auth-service/internal/identity"
	"github.com/pms-dapr/pms/apps/auth-service/internal/identity/identitytest"
	"github.com/pms-dapr/pms/apps/auth-service/internal/identitydb"
	"github.com/pms-dapr/pms/platform/pgtest"
	"github.com/pms-dapr/pms/platform/validation"
)

var template = pgtest.NewTemplate("auth", identitydb.Migrations())

// fakeSigner issues "token-for-<user id>".
type fakeSigner struct{}

func (fakeSigner) Sign(u identity.User, _ time.Time) (string, time.Duration, error) {
	return "token-for-" + u.ID, 15 * time.Minute, nil
}

// accounts is the identity service over a real database.
func accounts(t *testing.T) *identity.Service {
	t.Helper()
	svc, err := identity.NewService(identitydb.New(template.Pool(t)), fakeSigner{}, identity.Options{
		Hash:       identity.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1},
		RefreshTTL: time.Hour,
		Throttle:   identity.NewThrottle(5, time.Minute),
	})
	require.NoError(t, err)
	return svc
}

const password = "a long enough password"

func TestLoginAndCredentialFailuresLookAlike(t *testing.T) {
	svc := accounts(t)
	ctx := context.Background()
	u, err := svc.CreateUser(ctx, identity.NewUser{Email: "Clin@Example.com", Password: password, Role: "clinician"})
	require.NoError(t, err)

	s, err := svc.Login(ctx, "clin@example.com", password, "10.0.0.1")
	require.NoError(t, err, "email is case-insensitive")
	assert.Equal(t, "token-for-"+u.ID, s.AccessToken)
	assert.NotEmpty(t, s.RefreshToken)

	_, errWrong := svc.Login(ctx, "clin@example.com", "wrong password!!", "10.0.0.2")
	_, errUnknown := svc.Login(ctx, "nobody@example.com", password, "10.0.0.3")
	assert.Equal(t, identity.ErrBadCredentials, errWrong)
	assert.Equal(t, identity.ErrBadCredentials, errUnknown)

	disabled := true
	_, err = svc.UpdateUser(ctx, u.ID, identity.UserPatch{Disabled: &disabled})
	require.NoError(t, err)
	_, err = svc.Login(ctx, "clin@example.com", password, "10.0.0.4")
	assert.Equal(t, identity.ErrBadCredentials, err, "a disabled account fails like a wrong password")
	_, err = svc.Refresh(ctx, s.RefreshToken)
	assert.ErrorIs(t, err, identity.ErrInvalidRefresh, "disabling ends existing sessions")
}

// The sixth rapid failure is throttled for the client that made them. The
// account's lock is soft: a burst of wrong passwords from anyone cannot
// keep the owner, at an address with no failures, from signing in.
func TestSixthFailureIsThrottledButTheOwnerGetsIn(t *testing.T) {
	svc := accounts(t)
	ctx := context.Background()
	_, err := svc.CreateUser(ctx, identity.NewUser{Email: "a@example.com", Password: password, Role: "admin"})
	require.NoError(t, err)
	for i := range 5 {
		_, err := svc.Login(ctx, "a@example.com", "not the password", "10.0.0.9")
		require.Equal(t, identity.ErrBadCredentials, err, "attempt %d", i+1)
	}
	_, err = svc.Login(ctx, "a@example.com", password, "10.0.0.9")
	var th *identity.ThrottledError
	require.ErrorAs(t, err, &th, "the guessing client waits, right password or not")
	assert.Greater(t, th.RetryAfter, 50*time.Second)
	_, err = svc.Login(ctx, "someone@example.com", "x", "10.0.0.9")
	assert.ErrorAs(t, err, &th, "the client address is throttled for every account")

	_, err = svc.Login(ctx, "a@example.com", password, "10.0.1.1")
	assert.NoError(t, err, "the owner, from a client with no failures, gets in")
}

// With one hashing slot and no time to wait for it, concurrent logins are
// told to retry (ErrBusy) rather than all hashing at once: memory stays
// bounded whatever the flood.
func TestPasswordHashingIsBounded(t *testing.T) {
	svc, err := identity.NewService(identitydb.New(template.Pool(t)), fakeSigner{}, identity.Options{
		Hash: identity.OWASPParams, RefreshTTL: time.Hour, Throttle: identity.NewThrottle(1000, time.Minute),
		HashSlots: 1, HashWait: time.Millisecond,
	})
	require.NoError(t, err)
	var wg sync.WaitGroup
	var busy atomic.Int32
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := svc.Login(context.Background(), "nobody@example.com", "wrong password", fmt.Sprintf("192.0.2.%d", i))
			if errors.Is(err, identity.ErrBusy) {
				busy.Add(1)
			}
		}()
	}
	wg.Wait()
	assert.Positive(t, busy.Load(), "concurrent logins beyond the slots are told to retry")
}

func TestRefreshRotatesAndReuseRevokesTheFamily(t *testing.T) {
	svc := accounts(t)
	ctx := context.Background()
	_, err := svc.CreateUser(ctx, identity.NewUser{Email: "b@example.com", Password: password, Role: "billing"})
	require.NoError(t, err)
	first, err := svc.Login(ctx, "b@example.com", password, "10.0.0.1")
	require.NoError(t, err)

	second, err := svc.Refresh(ctx, first.RefreshToken)
	require.NoError(t, err)
	assert.NotEqual(t, first.RefreshToken, second.RefreshToken)

	_, err = svc.Refresh(ctx, first.RefreshToken)
	assert.ErrorIs(t, err, identity.ErrInvalidRefresh, "a spent token fails")
	_, err = svc.Refresh(ctx, second.RefreshToken)
	assert.ErrorIs(t, err, identity.ErrInvalidRefresh, "and its reuse revoked the whole family")

	other, err := svc.Login(ctx, "b@example.com", password, "10.0.0.1")
	require.NoError(t, err)
	require.NoError(t, svc.Logout(ctx, other.RefreshToken))
	_, err = svc.Refresh(ctx, other.RefreshToken)
	assert.ErrorIs(t, err, identity.ErrInvalidRefresh, "logout ends the session")
	_, err = svc.Refresh(ctx, "made-up")
	assert.ErrorIs(t, err, identity.ErrInvalidRefresh)
}

// A login ends after its absolute lifetime however often it is
// refreshed, and refreshing never extends it.
func TestSessionsEndAfterTheirAbsoluteLifetime(t *testing.T) {
	svc, err := identity.NewService(identitydb.New(template.Pool(t)), fakeSigner{}, identity.Options{
		Hash: identity.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}, RefreshTTL: time.Hour,
		SessionTTL: 2 * time.Second, Throttle: identity.NewThrottle(5, time.Minute),
	})
	require.NoError(t, err)
	ctx := context.Background()
	_, err = svc.CreateUser(ctx, identity.NewUser{Email: "s@example.com", Password: password, Role: "billing"})
	require.NoError(t, err)
	s, err := svc.Login(ctx, "s@example.com", password, "10.0.0.1")
	require.NoError(t, err)
	s, err = svc.Refresh(ctx, s.RefreshToken)
	require.NoError(t, err, "within the session a refresh works")
	time.Sleep(2100 * time.Millisecond)
	_, err = svc.Refresh(ctx, s.RefreshToken)
	assert.ErrorIs(t, err, identity.ErrInvalidRefresh, "after it, the user signs in again")
}

func TestUserManagement(t *testing.T) {
	svc := accounts(t)
	ctx := context.Background()
	_, err := svc.CreateUser(ctx, identity.NewUser{Email: "bad", Password: "short", Role: "nurse"})
	var verr *validation.Error
	require.ErrorAs(t, err, &verr)
	assert.Len(t, verr.Fields, 3)

	u, err := svc.CreateUser(ctx, identity.NewUser{Email: "c@example.com", Password: password, Role: "clinician"})
	require.NoError(t, err)
	_, err = svc.CreateUser(ctx, identity.NewUser{Email: "C@example.com", Password: password, Role: "admin"})
	assert.True(t, errors.Is(err, identity.ErrEmailTaken))

	admin := "admin"
	got, err := svc.UpdateUser(ctx, u.ID, identity.UserPatch{Role: &admin})
	require.NoError(t, err)
	assert.Equal(t, "admin", got.Role)
	_, err = svc.UpdateUser(ctx, "6f1c4a50-0000-4000-8000-000000000000", identity.UserPatch{Role: &admin})
	assert.ErrorIs(t, err, identity.ErrNotFound)

	created, err := svc.EnsureAdmin(ctx, "c@example.com", password)
	require.NoError(t, err)
	assert.False(t, created, "an existing account is left alone")
	us, err := svc.ListUsers(ctx)
	require.NoError(t, err)
	assert.Len(t, us, 1)
}

func TestPostgresFailureLogMeetsTheFailureLogContract(t *testing.T) {
	identitytest.FailureLogContract(t, func(t *testing.T) identity.FailureLog { return identitydb.NewFailures(template.Pool(t)) })
}

// Two services over one database see each other's failures.
func TestFailureLogIsSharedBetweenReplicas(t *testing.T) {
	pool := template.Pool(t)
	replica := func() *identity.Service {
		svc, err := identity.NewService(identitydb.New(pool), fakeSigner{}, identity.Options{
			Hash: identity.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}, RefreshTTL: time.Hour,
			Throttle: identity.NewSharedThrottle(5, time.Minute, identitydb.NewFailures(pool)),
		})
		require.NoError(t, err)
		return svc
	}
	a, b := replica(), replica()
	ctx := context.Background()
	for i := range 5 {
		svc := []*identity.Service{a, b}[i%2] // a balancer alternating replicas
		_, err := svc.Login(ctx, "nobody@example.com", "wrong password", "10.0.0.7")
		require.Equal(t, identity.ErrBadCredentials, err)
	}
	var th *identity.ThrottledError
	_, err := a.Login(ctx, "nobody@example.com", "wrong password", "10.0.0.7")
	assert.ErrorAs(t, err, &th, "the sixth failure is throttled whichever replica counts it")
}
