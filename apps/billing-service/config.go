package main

import "github.com/pms-dapr/pms/platform/service"

// config is everything billing-service reads from its environment.
type config struct {
	Port        string // APP_PORT: gRPC port the sidecar proxies to
	HealthPort  string // HEALTH_PORT: HTTP /healthz and /readyz
	DatabaseURL string // DATABASE_URL
}

func loadConfig() config {
	return config{
		Port:        service.Env("APP_PORT", "9001"),
		HealthPort:  service.Env("HEALTH_PORT", "4001"),
		DatabaseURL: service.Env("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/billing?sslmode=disable"),
	}
}
