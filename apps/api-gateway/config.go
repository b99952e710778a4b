package main

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/pms-dapr/pms/apps/api-gateway/internal/gateway"

	"github.com/pms-dapr/pms/platform/service"
)

// config is everything the gateway reads from its environment.
type config struct {
	Port            string         // APP_PORT
	ListenHost      string         // LISTEN_HOST: loopback unless set (0.0.0.0 in a container or pod, where clients come from outside)
	DaprHTTPPort    string         // DAPR_HTTP_PORT
	DaprAPIToken    string         // DAPR_API_TOKEN: presented to the sidecar
	PatientAppID    string         // PATIENT_APP_ID
	AnalyticsAppID  string         // ANALYTICS_APP_ID
	AuthAppID       string         // AUTH_APP_ID
	BearerComponent string         // JWT_BEARER_COMPONENT: the middleware.http.bearer manifest
	AllowedOrigins  []string       // CORS_ALLOWED_ORIGINS: comma-separated; empty closes CORS
	TrustedProxies  []netip.Prefix // TRUSTED_PROXIES: comma-separated addresses/CIDRs of proxies in front
}

func loadConfig() (config, error) {
	c := config{
		Port:            service.Env("APP_PORT", "4004"),
		ListenHost:      service.Env("LISTEN_HOST", "127.0.0.1"),
		DaprHTTPPort:    service.Env("DAPR_HTTP_PORT", "3500"),
		DaprAPIToken:    service.Env("DAPR_API_TOKEN", ""),
		PatientAppID:    service.Env("PATIENT_APP_ID", "patient-service"),
		AnalyticsAppID:  service.Env("ANALYTICS_APP_ID", "analytics-service"),
		AuthAppID:       service.Env("AUTH_APP_ID", "auth-service"),
		BearerComponent: service.Env("JWT_BEARER_COMPONENT", "../../components/middleware/jwt-bearer.yaml"),
	}
	for _, o := range strings.Split(service.Env("CORS_ALLOWED_ORIGINS", ""), ",") {
		if o = strings.TrimSpace(o); o != "" {
			c.AllowedOrigins = append(c.AllowedOrigins, o)
		}
	}
	var err error
	if c.TrustedProxies, err = gateway.ParseTrustedProxies(service.Env("TRUSTED_PROXIES", "")); err != nil {
		return c, fmt.Errorf("config: TRUSTED_PROXIES: %w", err)
	}
	if c.DaprAPIToken == "" {
		return c, errors.New("config: DAPR_API_TOKEN is required (the token the sidecar expects)")
	}
	return c, nil
}
