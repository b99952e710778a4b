package authn

import "errors"

// SidecarToken is the Dapr API token an app presents to its own sidecar.
// The sidecar refuses every other API call without it (its own
// DAPR_API_TOKEN), so an app holds it unless it runs beside a sidecar that
// has none: the Dapr CLI's, whose own metadata calls carry no token.
type SidecarToken struct {
	Token    string `env:"DAPR_API_TOKEN" secret:"true" help:"The Dapr API token this app presents to its sidecar (the sidecar is started with the same value). Required unless DAPR_API_TOKEN_OPTIONAL=true."`
	Optional bool   `env:"DAPR_API_TOKEN_OPTIONAL" help:"true lets the app start without DAPR_API_TOKEN, beside a sidecar started without one (the Dapr CLI's; docs/operations/dapr-cli.md). Development only."`
}

// Validate refuses a missing token unless it was declared optional.
func (t SidecarToken) Validate() error {
	if t.Token == "" && !t.Optional {
		return errors.New("config: DAPR_API_TOKEN is required (the token the Dapr sidecar expects); DAPR_API_TOKEN_OPTIONAL=true only beside a sidecar without one")
	}
	return nil
}

// ServiceConfig is what a service behind a Dapr sidecar needs in order to
// trust requests: the app and sidecar API tokens, and where and how to check
// users' access tokens. The issuer has no default: a service that verifies
// tokens must be told whose tokens to accept.
type ServiceConfig struct {
	AppAPIToken string `env:"APP_API_TOKEN, required" secret:"true" help:"The app API token the Dapr sidecar presents to this app; any request without it is refused (401)."`
	Dapr        SidecarToken
	AuthAppID   string `env:"AUTH_APP_ID, default=auth-service" help:"The Dapr app id whose JWKS verifies access tokens, fetched through this app's sidecar."`
	Issuer      string `env:"AUTH_ISSUER, required" help:"The iss every access token must carry (auth-service's AUTH_ISSUER; locally http://localhost:4004/auth)."`
	Audience    string `env:"AUTH_AUDIENCE, default=pms-api" help:"The aud every access token must carry."`
	JWKSURL     string `env:"AUTH_JWKS_URL" help:"Another identity provider's JWKS URL, fetched directly instead of auth-service's through Dapr."`
}
