package authn

import "errors"

// ServiceConfig is what a service behind a Dapr sidecar needs in order to
// trust requests: the app and sidecar API tokens, and where and how to check
// users' access tokens.
type ServiceConfig struct {
	AppAPIToken  string // APP_API_TOKEN: what the sidecar presents to the app
	DaprAPIToken string // DAPR_API_TOKEN: what the app presents to the sidecar
	AuthAppID    string // AUTH_APP_ID: whose JWKS to fetch through Dapr
	Issuer       string // AUTH_ISSUER
	Audience     string // AUTH_AUDIENCE
	JWKSURL      string // AUTH_JWKS_URL: another identity provider's JWKS instead
}

// LoadServiceConfig reads ServiceConfig through env (the service's
// environment reader, e.g. service.Env). Both API tokens are required.
func LoadServiceConfig(env func(key, def string) string) (ServiceConfig, error) {
	c := ServiceConfig{
		AppAPIToken:  env("APP_API_TOKEN", ""),
		DaprAPIToken: env("DAPR_API_TOKEN", ""),
		AuthAppID:    env("AUTH_APP_ID", "auth-service"),
		Issuer:       env("AUTH_ISSUER", "http://localhost:4004/auth"),
		Audience:     env("AUTH_AUDIENCE", "pms-api"),
		JWKSURL:      env("AUTH_JWKS_URL", ""),
	}
	if c.AppAPIToken == "" || c.DaprAPIToken == "" {
		return c, errors.New("config: APP_API_TOKEN and DAPR_API_TOKEN are required (the Dapr app and sidecar API tokens)")
	}
	return c, nil
}
