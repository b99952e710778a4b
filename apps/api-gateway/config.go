package main

import (
	"strings"

	"github.com/pms-dapr/pms/platform/appconfig"
	"github.com/pms-dapr/pms/platform/authn"
	"github.com/pms-dapr/pms/platform/clientaddr"
	"github.com/pms-dapr/pms/platform/metrics"
	"github.com/pms-dapr/pms/platform/service"
)

// config is everything the gateway reads from its environment.
type config struct {
	Port string `env:"APP_PORT, default=4004" help:"The port clients (and the sidecar's health checks) reach the gateway on."`
	service.Listen
	Sidecar          service.Sidecar
	Dapr             authn.SidecarToken
	PatientAppID     string             `env:"PATIENT_APP_ID, default=patient-service" help:"The Dapr app id /patients routes are forwarded to."`
	AnalyticsAppID   string             `env:"ANALYTICS_APP_ID, default=analytics-service" help:"The Dapr app id /analytics routes are forwarded to."`
	BillingAppID     string             `env:"BILLING_APP_ID, default=billing-service" help:"The Dapr app id /billing routes call (its gRPC API)."`
	AuthAppID        string             `env:"AUTH_APP_ID, default=auth-service" help:"The Dapr app id /auth routes are forwarded to."`
	BearerComponent  string             `env:"JWT_BEARER_COMPONENT, default=../../dapr/middleware/jwt-bearer.yaml" help:"The Dapr middleware.http.bearer component manifest (issuer, audience, JWKS URL), relative to the working directory."`
	AllowedOrigins   []string           `env:"CORS_ALLOWED_ORIGINS" help:"Comma-separated origins allowed to call the API from a browser on another origin; empty closes CORS."`
	TrustedProxies   clientaddr.Proxies `env:"TRUSTED_PROXIES" help:"Comma-separated addresses or CIDR prefixes of the proxies in front of the gateway (an ingress controller); only their X-Forwarded-For is believed."`
	TraceFromProxies bool               `env:"TRACE_FROM_PROXIES" help:"true continues the trace (W3C traceparent) of a request that comes straight from one of TRUSTED_PROXIES; set it only where that proxy starts or cleans the trace context, never passes a client's on. Unset, every request starts a trace of its own."`
	Metrics          metrics.Config
	Profiling        service.Profiling
}

// Validate trims the allowed origins and drops empty ones.
func (c *config) Validate() error {
	origins := c.AllowedOrigins[:0]
	for _, o := range c.AllowedOrigins {
		if o = strings.TrimSpace(o); o != "" {
			origins = append(origins, o)
		}
	}
	c.AllowedOrigins = origins
	return nil
}

// command is the gateway's command line, for --help and the generated
// configuration reference.
func command() appconfig.Command {
	return appconfig.Command{
		App:     "api-gateway",
		Summary: "The only service clients call: it checks access tokens (Dapr bearer middleware) and roles, serves the console and the API reference, and forwards each route to the owning app through Dapr service invocation.",
		Sections: []appconfig.Section{{
			Title:  "api-gateway",
			Doc:    "Serves the REST API beside its Dapr sidecar until SIGINT or SIGTERM.",
			Config: config{},
		}},
	}
}
