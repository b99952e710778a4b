package main

import "github.com/pms-dapr/pms/platform/service"

// config is everything the gateway reads from its environment.
type config struct {
	Port           string // APP_PORT
	DaprHTTPPort   string // DAPR_HTTP_PORT
	PatientAppID   string // PATIENT_APP_ID
	AnalyticsAppID string // ANALYTICS_APP_ID
}

func loadConfig() config {
	return config{
		Port:           service.Env("APP_PORT", "4004"),
		DaprHTTPPort:   service.Env("DAPR_HTTP_PORT", "3500"),
		PatientAppID:   service.Env("PATIENT_APP_ID", "patient-service"),
		AnalyticsAppID: service.Env("ANALYTICS_APP_ID", "analytics-service"),
	}
}
