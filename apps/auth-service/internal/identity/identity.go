// Package identity is auth-service's domain: users and their roles,
// password checks with throttling, and sessions made of a short-lived access
// token and a rotating refresh token.
package identity

import (
	"errors"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pms-dapr/pms/platform/authn"
	"github.com/pms-dapr/pms/platform/validation"
)

// Sentinel errors the transport maps to status codes.
var (
	// ErrBadCredentials covers a wrong password, an unknown email and a
	// disabled account alike, so a caller cannot tell which.
	ErrBadCredentials = errors.New("invalid email or password")
	// ErrBusy means every password-hashing slot stayed taken for the
	// whole wait: the caller should retry shortly (503 with Retry-After).
	ErrBusy = errors.New("password checks are saturated")
	// ErrInvalidRefresh covers an unknown, expired, revoked or reused
	// refresh token.
	ErrInvalidRefresh = errors.New("invalid refresh token")
	ErrNotFound       = errors.New("user not found")
	ErrEmailTaken     = errors.New("email already registered")
	// ErrThrottled is what every *ThrottledError is (errors.Is).
	ErrThrottled = errors.New("too many failed logins")
)

// ThrottledError says a login was refused without checking the password
// because of recent failures; RetryAfter is when to try again.
type ThrottledError struct{ RetryAfter time.Duration }

func (e *ThrottledError) Error() string { return ErrThrottled.Error() }

// Is makes a ThrottledError ErrThrottled.
func (e *ThrottledError) Is(target error) bool { return target == ErrThrottled }

// Wait is RetryAfter (problem.Waiter: the transport's Retry-After).
func (e *ThrottledError) Wait() time.Duration { return e.RetryAfter }

// Password length bounds: long enough to resist guessing, short enough that
// hashing cannot be used to exhaust the server.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 128
)

// User is an account.
type User struct {
	ID           string
	Email        string
	PasswordHash string
	Role         string
	Disabled     bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// NewUser is an account to create.
type NewUser struct {
	Email    string
	Password string
	Role     string
}

func (n NewUser) validate() error {
	v := validation.New("user")
	if msg := validation.TextProblem(n.Email, MaxEmailLen); msg != "" {
		v.Add("email", msg)
	} else if a, err := mail.ParseAddress(n.Email); err != nil || a.Address != n.Email {
		v.Add("email", "must be an email address like name@example.com")
	}
	validatePassword(v, n.Password)
	if !authn.ValidRole(n.Role) {
		v.Add("role", "must be one of admin, clinician, billing")
	}
	if len(v.Fields) > 0 {
		return v
	}
	return nil
}

func validatePassword(v *validation.Error, p string) {
	switch n := utf8.RuneCountInString(p); {
	case !utf8.ValidString(p):
		v.Add("password", "must be valid UTF-8")
	case strings.ContainsRune(p, 0):
		v.Add("password", "must not contain NUL characters")
	case n < MinPasswordLen:
		v.Add("password", "must be at least 12 characters")
	case n > MaxPasswordLen:
		v.Add("password", "must be at most 128 characters")
	}
}

// MaxEmailLen bounds an email address (RFC 5321's path limit).
const MaxEmailLen = 254

// ValidateLogin checks a login's shape before anything is looked up: both
// present, the email acceptable text, the password valid UTF-8 without NUL
// and no longer than any password can be. A wrong password or an unknown
// email is not a validation error (both answer ErrBadCredentials alike).
func ValidateLogin(email, password string) error {
	v := validation.New("login")
	if email == "" {
		v.Add("email", "is required")
	} else {
		v.Text("email", email, MaxEmailLen)
	}
	switch {
	case password == "":
		v.Add("password", "is required")
	case !utf8.ValidString(password):
		v.Add("password", "must be valid UTF-8")
	case strings.ContainsRune(password, 0):
		v.Add("password", "must not contain NUL characters")
	case utf8.RuneCountInString(password) > MaxPasswordLen:
		v.Add("password", "must be at most 128 characters")
	}
	return v.Err()
}

// UserPatch changes a user; nil fields stay as they are.
type UserPatch struct {
	Role     *string
	Disabled *bool
}
