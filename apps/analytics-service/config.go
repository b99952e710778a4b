package main

import "github.com/pms-dapr/pms/platform/service"

// config is everything analytics-service reads from its environment.
type config struct {
	Port        string // APP_PORT
	DatabaseURL string // DATABASE_URL
}

func loadConfig() config {
	return config{
		Port:        service.Env("APP_PORT", "4002"),
		DatabaseURL: service.Env("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/analytics?sslmode=disable"),
	}
}
