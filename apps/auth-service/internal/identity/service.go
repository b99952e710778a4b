package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/pms-dapr/pms/platform/authn"
	"github.com/pms-dapr/pms/platform/validation"
)

// RefreshToken is the stored form of a refresh token: only its hash is kept.
// Tokens descending from one login share a family; presenting a token that
// was already used revokes the whole family (the token was stolen, or the
// client is confused: either way the session ends).
type RefreshToken struct {
	ID        string
	FamilyID  string
	UserID    string
	Hash      []byte
	ExpiresAt time.Time
	CreatedAt time.Time
	// FamilyExpiresAt is when the login session ends, however often it is
	// refreshed (set at login, kept by every rotation).
	FamilyExpiresAt time.Time
}

// Store persists users and refresh tokens.
type Store interface {
	UserByEmail(ctx context.Context, email string) (User, error)
	UserByID(ctx context.Context, id string) (User, error)
	CreateUser(ctx context.Context, u User) error
	ListUsers(ctx context.Context) ([]User, error)
	UpdateUser(ctx context.Context, id string, p UserPatch, now time.Time) (User, error)
	CreateRefresh(ctx context.Context, t RefreshToken) error
	// RotateRefresh marks the token with hash used and stores next in its
	// family, returning the user id. An unknown, expired or revoked token is
	// ErrInvalidRefresh; a token already used revokes its family and is
	// ErrInvalidRefresh too.
	RotateRefresh(ctx context.Context, hash []byte, now time.Time, next RefreshToken) (string, error)
	// RevokeFamily revokes every token of the family of the token with hash.
	RevokeFamily(ctx context.Context, hash []byte, now time.Time) error
}

// Signer issues access tokens.
type Signer interface {
	Sign(u User, now time.Time) (token string, ttl time.Duration, err error)
}

// Session is what a login or a refresh hands out.
type Session struct {
	AccessToken  string
	ExpiresIn    time.Duration
	RefreshToken string
}

// Options tune a Service.
type Options struct {
	Hash       Argon2Params
	RefreshTTL time.Duration // one refresh token's lifetime
	// SessionTTL is the absolute lifetime of a login: refreshing never
	// extends it (zero: RefreshTTL).
	SessionTTL time.Duration
	Throttle   *Throttle
	// HashSlots bounds how many password hashes run at once (each takes
	// Hash.MemoryKiB of memory), so a login flood cannot exhaust memory;
	// HashWait is how long a login waits for a slot before ErrBusy.
	// Zero HashSlots means 1.
	HashSlots int
	HashWait  time.Duration
}

// Service authenticates users and manages accounts.
type Service struct {
	store     Store
	signer    Signer
	opts      Options
	dummyHash string
	now       func() time.Time
	hashSlots chan struct{} // a token per hash running
}

// withHashSlot runs f while holding a hashing slot, waiting at most
// HashWait for one.
func (s *Service) withHashSlot(ctx context.Context, f func() error) error {
	select {
	case s.hashSlots <- struct{}{}: // a free slot: no timer race
	default:
		wait := time.NewTimer(s.opts.HashWait)
		defer wait.Stop()
		select {
		case s.hashSlots <- struct{}{}:
		case <-wait.C:
			return ErrBusy
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	defer func() { <-s.hashSlots }()
	return f()
}

// NewService returns a Service.
func NewService(store Store, signer Signer, opts Options) (*Service, error) {
	dummy, err := HashPassword("not a real password: equalises timing", opts.Hash)
	if err != nil {
		return nil, err
	}
	return &Service{store: store, signer: signer, opts: opts, dummyHash: dummy, now: time.Now,
		hashSlots: make(chan struct{}, max(1, opts.HashSlots))}, nil
}

// Login checks email and password and opens a session. Unknown email,
// wrong password and disabled account fail alike (ErrBadCredentials) and
// take as long (the password is hashed either way). Repeated failures for
// an account or from a client address are throttled (*ThrottledError).
func (s *Service) Login(ctx context.Context, email, password, clientAddr string) (Session, error) {
	now := s.now()
	keys := []string{"account:" + strings.ToLower(strings.TrimSpace(email)), "client:" + clientAddr}
	wait, err := s.throttled(ctx, keys[0], keys[1], now)
	if err != nil {
		return Session{}, err // fail closed: an unknown count is not zero
	}
	if wait > 0 {
		return Session{}, &ThrottledError{RetryAfter: wait}
	}
	u, err := s.store.UserByEmail(ctx, strings.TrimSpace(email))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Session{}, fmt.Errorf("identity.login: %w", err)
	}
	hash := s.dummyHash
	if err == nil {
		hash = u.PasswordHash
	}
	var ok bool
	var herr error
	if serr := s.withHashSlot(ctx, func() error { ok, herr = CheckPassword(password, hash); return nil }); serr != nil {
		return Session{}, serr // not a failed login: nothing was checked
	}
	if err != nil || herr != nil || !ok || u.Disabled {
		for _, k := range keys {
			if ferr := s.opts.Throttle.Fail(ctx, k, now); ferr != nil {
				return Session{}, ferr
			}
		}
		return Session{}, ErrBadCredentials
	}
	if rerr := s.opts.Throttle.Reset(ctx, keys[0]); rerr != nil {
		return Session{}, rerr
	}
	return s.open(ctx, u, uuid.NewString(), now)
}

// throttled says how long a login for account from client must wait. A
// client over its own limit waits. An account over its limit is a soft
// lock: it stops clients that have failed recently, but a client with no
// recent failures may still try, so a burst of wrong passwords from anyone
// cannot lock the real user out.
func (s *Service) throttled(ctx context.Context, account, client string, now time.Time) (time.Duration, error) {
	wait, clientFailures, err := s.opts.Throttle.state(ctx, client, now)
	if err != nil {
		return 0, err
	}
	accountWait, _, err := s.opts.Throttle.state(ctx, account, now)
	if err != nil {
		return 0, err
	}
	if accountWait > 0 && clientFailures > 0 {
		wait = max(wait, accountWait)
	}
	return wait, nil
}

// open issues an access token and stores a new refresh token in family.
func (s *Service) open(ctx context.Context, u User, family string, now time.Time) (Session, error) {
	raw, rt, err := s.newRefresh(u.ID, family, now)
	if err != nil {
		return Session{}, err
	}
	if err := s.store.CreateRefresh(ctx, rt); err != nil {
		return Session{}, fmt.Errorf("identity.open: %w", err)
	}
	return s.session(u, raw, now)
}

func (s *Service) session(u User, refresh string, now time.Time) (Session, error) {
	tok, ttl, err := s.signer.Sign(u, now)
	if err != nil {
		return Session{}, fmt.Errorf("identity.sign: %w", err)
	}
	return Session{AccessToken: tok, ExpiresIn: ttl, RefreshToken: refresh}, nil
}

func (s *Service) newRefresh(userID, family string, now time.Time) (string, RefreshToken, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", RefreshToken{}, fmt.Errorf("identity.refresh_token: %w", err)
	}
	raw := base64.RawURLEncoding.EncodeToString(b)
	session := s.opts.SessionTTL
	if session <= 0 {
		session = s.opts.RefreshTTL
	}
	familyEnd := now.Add(session) // for a new login; a rotation keeps its family's
	expires := now.Add(s.opts.RefreshTTL)
	if familyEnd.Before(expires) {
		expires = familyEnd
	}
	return raw, RefreshToken{ID: uuid.NewString(), FamilyID: family, UserID: userID, Hash: hashToken(raw),
		ExpiresAt: expires, CreatedAt: now, FamilyExpiresAt: familyEnd}, nil
}

func hashToken(raw string) []byte {
	h := sha256.Sum256([]byte(raw))
	return h[:]
}

// Refresh trades a refresh token for a new session; the old token is spent.
func (s *Service) Refresh(ctx context.Context, refresh string) (Session, error) {
	if refresh == "" || len(refresh) > 256 {
		return Session{}, ErrInvalidRefresh
	}
	now := s.now()
	raw, next, err := s.newRefresh("", "", now)
	if err != nil {
		return Session{}, err
	}
	userID, err := s.store.RotateRefresh(ctx, hashToken(refresh), now, next)
	if err != nil {
		return Session{}, err
	}
	u, err := s.store.UserByID(ctx, userID)
	if err != nil {
		return Session{}, fmt.Errorf("identity.refresh: %w", err)
	}
	if u.Disabled {
		_ = s.store.RevokeFamily(ctx, next.Hash, now)
		return Session{}, ErrInvalidRefresh
	}
	return s.session(u, raw, now)
}

// Logout ends the session the refresh token belongs to. Unknown tokens are
// ignored: the outcome (no usable session) is the same.
func (s *Service) Logout(ctx context.Context, refresh string) error {
	if refresh == "" || len(refresh) > 256 {
		return nil
	}
	if err := s.store.RevokeFamily(ctx, hashToken(refresh), s.now()); err != nil {
		return fmt.Errorf("identity.logout: %w", err)
	}
	return nil
}

// CreateUser validates and stores a new account.
func (s *Service) CreateUser(ctx context.Context, n NewUser) (User, error) {
	n.Email = strings.TrimSpace(n.Email)
	if err := n.validate(); err != nil {
		return User{}, err
	}
	var hash string
	err := s.withHashSlot(ctx, func() (err error) { hash, err = HashPassword(n.Password, s.opts.Hash); return err })
	if err != nil {
		return User{}, err
	}
	now := s.now().UTC()
	u := User{ID: uuid.NewString(), Email: n.Email, PasswordHash: hash, Role: n.Role, CreatedAt: now, UpdatedAt: now}
	if err := s.store.CreateUser(ctx, u); err != nil {
		return User{}, fmt.Errorf("identity.create_user: %w", err)
	}
	return u, nil
}

// ListUsers returns every account.
func (s *Service) ListUsers(ctx context.Context) ([]User, error) {
	us, err := s.store.ListUsers(ctx)
	if err != nil {
		return nil, fmt.Errorf("identity.list_users: %w", err)
	}
	return us, nil
}

// UpdateUser changes a user's role or disabled flag.
func (s *Service) UpdateUser(ctx context.Context, id string, p UserPatch) (User, error) {
	v := validation.New("user")
	if p.Role != nil && !authn.ValidRole(*p.Role) {
		v.Add("role", "must be one of admin, clinician, billing")
	}
	if p.Role == nil && p.Disabled == nil {
		v.Add("body", "must change role or disabled")
	}
	if len(v.Fields) > 0 {
		return User{}, v
	}
	if _, err := uuid.Parse(id); err != nil {
		return User{}, ErrNotFound
	}
	u, err := s.store.UpdateUser(ctx, id, p, s.now().UTC())
	if err != nil {
		return User{}, fmt.Errorf("identity.update_user: %w", err)
	}
	return u, nil
}

// EnsureAdmin creates an admin account with email and password unless an
// account with that email exists. It reports whether it created one.
func (s *Service) EnsureAdmin(ctx context.Context, email, password string) (bool, error) {
	_, err := s.store.UserByEmail(ctx, email)
	if err == nil {
		return false, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return false, fmt.Errorf("identity.ensure_admin: %w", err)
	}
	_, err = s.CreateUser(ctx, NewUser{Email: email, Password: password, Role: "admin"})
	if errors.Is(err, ErrEmailTaken) {
		return false, nil
	}
	return err == nil, err
}
