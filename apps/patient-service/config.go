package main

import (
	"time"

	"github.com/pms-dapr/pms/apps/patient-service/internal/fhirapi"
	"github.com/pms-dapr/pms/platform/appconfig"
	"github.com/pms-dapr/pms/platform/pgdb"
	"github.com/pms-dapr/pms/platform/service"
)

// config is everything patient-service reads from its environment.
type config struct {
	Port string `env:"APP_PORT, default=4000" help:"The port the sidecar forwards invocations to."`
	service.Backend
	BillingAppID string `env:"BILLING_APP_ID, default=billing-service" help:"The Dapr app id of billing-service."`
	// A registration waits this long for its billing account, then answers
	// without it (the reconciler opens it): a slow or stopped billing-service
	// costs a registration at most this much.
	BillingTimeout    time.Duration `env:"BILLING_TIMEOUT, default=300ms" help:"How long a registration waits for its billing account before answering without it (the reconciler opens it later)."`
	ReconcileInterval time.Duration `env:"BILLING_RECONCILE_INTERVAL, default=2s" help:"How often the reconciler looks for patients without a billing account."`
	// FHIR
	FHIRBaseURL   string `env:"FHIR_BASE_URL" help:"The FHIR API's public base URL, as clients reach it through the gateway (https://pms.example.org/fhir/R4); links and Location headers start with it. Empty: taken from the X-Forwarded-Proto and X-Forwarded-Host the gateway sends."`
	FHIRMRNSystem string `env:"FHIR_MRN_SYSTEM, default=http://pms.example.org/fhir/sid/mrn" help:"The identifier system (a URI) of the medical record number in FHIR resources; set it to your organisation's."`
}

// Validate checks what presence alone does not.
func (c config) Validate() error {
	if err := appconfig.Positive("BILLING_TIMEOUT", c.BillingTimeout); err != nil {
		return err
	}
	if err := appconfig.Positive("BILLING_RECONCILE_INTERVAL", c.ReconcileInterval); err != nil {
		return err
	}
	return fhirapi.CheckConfig(c.FHIRBaseURL, c.FHIRMRNSystem)
}

// command is patient-service's command line, for --help and the generated
// configuration reference.
func command() appconfig.Command {
	return pgdb.Command("patient-service",
		"Keeps the patient registry: patients in PostgreSQL, their events published through Dapr pub/sub (transactional outbox), their billing accounts opened over gRPC through Dapr.",
		config{})
}
