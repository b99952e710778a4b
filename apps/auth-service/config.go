package main

import (
	"errors"
	"time"

	"github.com/pms-dapr/pms/platform/pgdb"
	"github.com/pms-dapr/pms/platform/service"
)

// config is everything auth-service reads from its environment. Nothing
// secret has a default: without a signing key file the service only starts
// in development mode, where it makes (and keeps) its own key.
type config struct {
	Port           string        // APP_PORT
	ListenHost     string        // LISTEN_HOST: the app's sidecar shares its host, so loopback unless set (0.0.0.0 where probes come from outside)
	Database       pgdb.Config   // DATABASE_URL, DATABASE_DEV_MODE
	AppAPIToken    string        // APP_API_TOKEN: what the sidecar must present
	DevMode        bool          // AUTH_DEV_MODE=true: allows a generated key and the local issuer
	Issuer         string        // AUTH_ISSUER
	Audience       string        // AUTH_AUDIENCE
	KeyFile        string        // AUTH_SIGNING_KEY_FILE: PEM EC P-256 private key
	NextKeyFile    string        // AUTH_NEXT_SIGNING_KEY_FILE: published, not yet used
	DevKeyFile     string        // AUTH_DEV_KEY_FILE: where development mode keeps its key
	AdminEmail     string        // AUTH_BOOTSTRAP_ADMIN_EMAIL
	AdminPassword  string        // AUTH_BOOTSTRAP_ADMIN_PASSWORD
	RefreshTTL     time.Duration // AUTH_REFRESH_TTL
	SessionTTL     time.Duration // AUTH_SESSION_TTL: absolute lifetime of a login
	LoginFailLimit int           // failed logins per minute per account and per client
}

func loadConfig() (config, error) {
	c := config{
		Port:           service.Env("APP_PORT", "4005"),
		ListenHost:     service.Env("LISTEN_HOST", "127.0.0.1"),
		AppAPIToken:    service.Env("APP_API_TOKEN", ""),
		DevMode:        service.Env("AUTH_DEV_MODE", "") == "true",
		Audience:       service.Env("AUTH_AUDIENCE", "pms-api"),
		KeyFile:        service.Env("AUTH_SIGNING_KEY_FILE", ""),
		NextKeyFile:    service.Env("AUTH_NEXT_SIGNING_KEY_FILE", ""),
		DevKeyFile:     service.Env("AUTH_DEV_KEY_FILE", ".dapr/dev-signing-key.pem"),
		AdminEmail:     service.Env("AUTH_BOOTSTRAP_ADMIN_EMAIL", ""),
		AdminPassword:  service.Env("AUTH_BOOTSTRAP_ADMIN_PASSWORD", ""),
		LoginFailLimit: 5,
	}
	devIssuer := ""
	if c.DevMode {
		devIssuer = "http://localhost:4004/auth"
	}
	c.Issuer = service.Env("AUTH_ISSUER", devIssuer)
	var err error
	if c.Database, err = pgdb.LoadConfig(); err != nil {
		return c, err
	}
	// NIST SP 800-63B §4.2.3: at AAL2, reauthenticate once per 12 hours of
	// an extended session, whatever the activity.
	if c.SessionTTL, err = service.EnvDuration("AUTH_SESSION_TTL", 12*time.Hour); err != nil {
		return c, err
	}
	if c.RefreshTTL, err = service.EnvDuration("AUTH_REFRESH_TTL", 12*time.Hour); err != nil {
		return c, err
	}
	switch {
	case c.AppAPIToken == "":
		return c, errors.New("config: APP_API_TOKEN is required (the token the Dapr sidecar presents)")
	case c.Issuer == "":
		return c, errors.New("config: AUTH_ISSUER is required outside development mode")
	case c.KeyFile == "" && !c.DevMode:
		return c, errors.New("config: AUTH_SIGNING_KEY_FILE is required outside development mode")
	case c.AdminEmail != "" && c.AdminPassword == "":
		return c, errors.New("config: AUTH_BOOTSTRAP_ADMIN_EMAIL is set but AUTH_BOOTSTRAP_ADMIN_PASSWORD is not")
	}
	return c, nil
}
