package main

import (
	"errors"
	"time"

	"github.com/pms-dapr/pms/platform/appconfig"
	"github.com/pms-dapr/pms/platform/metrics"
	"github.com/pms-dapr/pms/platform/pgdb"
	"github.com/pms-dapr/pms/platform/service"
)

// devIssuer is the issuer development mode uses when AUTH_ISSUER is unset:
// the gateway's /auth routes on this machine.
const devIssuer = "http://localhost:4004/auth"

// config is everything auth-service reads from its environment. Nothing
// secret has a default: without a signing key file the service only starts
// in development mode, where it makes (and keeps) its own key.
type config struct {
	Port string `env:"APP_PORT, default=4005" help:"The port the sidecar forwards invocations to."`
	service.Listen
	Database      pgdb.Config
	AppAPIToken   string `env:"APP_API_TOKEN, required" secret:"true" help:"The app API token the Dapr sidecar presents to this app; any request without it is refused (401)."`
	DevMode       bool   `env:"AUTH_DEV_MODE" help:"true allows a generated signing key (kept in AUTH_DEV_KEY_FILE) and, without AUTH_ISSUER, the local issuer http://localhost:4004/auth. Development only."`
	Issuer        string `env:"AUTH_ISSUER" help:"The iss of every token, and the public base URL of this API. Required outside development mode."`
	Audience      string `env:"AUTH_AUDIENCE, default=pms-api" help:"The aud of every access token."`
	KeyFile       string `env:"AUTH_SIGNING_KEY_FILE" help:"PEM file of the EC P-256 private key that signs tokens. Required outside development mode."`
	NextKeyFile   string `env:"AUTH_NEXT_SIGNING_KEY_FILE" help:"PEM file of the next signing key: published in the JWKS, not yet used to sign (key rotation, docs/runbooks/rotate-signing-keys.md)."`
	DevKeyFile    string `env:"AUTH_DEV_KEY_FILE, default=.dapr/dev-signing-key.pem" help:"Development mode without AUTH_SIGNING_KEY_FILE: where the generated key is kept, so tokens survive a restart."`
	AdminEmail    string `env:"AUTH_BOOTSTRAP_ADMIN_EMAIL" help:"An admin account created at start when no account has this email."`
	AdminPassword string `env:"AUTH_BOOTSTRAP_ADMIN_PASSWORD" secret:"true" help:"The bootstrap admin's password; required with AUTH_BOOTSTRAP_ADMIN_EMAIL."`
	// NIST SP 800-63B §4.2.3: at AAL2, reauthenticate once per 12 hours of
	// an extended session, whatever the activity.
	SessionTTL time.Duration `env:"AUTH_SESSION_TTL, default=12h" help:"The absolute lifetime of a login, however often it is refreshed (NIST SP 800-63B: 12 hours at AAL2)."`
	RefreshTTL time.Duration `env:"AUTH_REFRESH_TTL, default=12h" help:"How long an unused refresh token stays valid."`
	Metrics    metrics.Config
	Profiling  service.Profiling
}

// Validate applies the rules between variables; in development mode it
// fills in the local issuer.
func (c *config) Validate() error {
	if c.Issuer == "" && c.DevMode {
		c.Issuer = devIssuer
	}
	if err := appconfig.Positive("AUTH_SESSION_TTL", c.SessionTTL); err != nil {
		return err
	}
	if err := appconfig.Positive("AUTH_REFRESH_TTL", c.RefreshTTL); err != nil {
		return err
	}
	switch {
	case c.Issuer == "":
		return errors.New("config: AUTH_ISSUER is required outside development mode")
	case c.KeyFile == "" && !c.DevMode:
		return errors.New("config: AUTH_SIGNING_KEY_FILE is required outside development mode")
	case c.AdminEmail != "" && c.AdminPassword == "":
		return errors.New("config: AUTH_BOOTSTRAP_ADMIN_EMAIL is set but AUTH_BOOTSTRAP_ADMIN_PASSWORD is not")
	}
	return nil
}

// command is auth-service's command line, for --help and the generated
// configuration reference.
func command() appconfig.Command {
	return pgdb.Command("auth-service",
		"The identity provider: user accounts (argon2id, throttled logins), ES256 access tokens with rotating refresh tokens, and the public keys as a JWKS.",
		config{})
}
