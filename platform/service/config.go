package service

import (
	"github.com/pms-dapr/pms/platform/authn"
	"github.com/pms-dapr/pms/platform/metrics"
	"github.com/pms-dapr/pms/platform/outbox"
	"github.com/pms-dapr/pms/platform/pgdb"
)

// The blocks below are embedded (or held) by the services' configurations,
// so a variable shared by several services is written down once. Main finds
// them by their types.

// Listen is the address a service listens on. Each service keeps its own
// APP_PORT: its default and meaning are its own.
type Listen struct {
	ListenHost string `env:"LISTEN_HOST, default=127.0.0.1" help:"The address the app listens on: loopback unless set, since its sidecar shares its host (0.0.0.0 in a container or pod, where probes, or the gateway's clients, come from outside)."`
}

// Sidecar is where a service reaches its own Dapr sidecar's APIs, on
// 127.0.0.1.
type Sidecar struct {
	HTTPPort string `env:"DAPR_HTTP_PORT, default=3500" help:"The sidecar's HTTP API port on 127.0.0.1 (service invocation: the gateway's forwarding, every service's JWKS from auth-service)."`
	GRPCPort string `env:"DAPR_GRPC_PORT, default=50001" help:"The sidecar's gRPC API port on 127.0.0.1 (publishing events, redriving dead letters, calling billing-service)."`
}

// HTTP is the base URL of the sidecar's HTTP API.
func (s Sidecar) HTTP() string { return "http://127.0.0.1:" + s.HTTPPort }

// GRPC is the address of the sidecar's gRPC API.
func (s Sidecar) GRPC() string { return "127.0.0.1:" + s.GRPCPort }

// Backend is the configuration every service behind the gateway with a
// database shares (patient-, billing- and analytics-service): where it
// listens, its sidecar and pub/sub component, its database, how it trusts
// requests, its metrics and profiling.
type Backend struct {
	Listen
	Sidecar    Sidecar
	PubSubName string `env:"PUBSUB_NAME, default=pubsub" help:"The Dapr pub/sub component events are published through and come from."`
	Database   pgdb.Config
	Trust      authn.ServiceConfig
	Metrics    metrics.Config
	Profiling  Profiling
}

// Publisher is a publisher of events of type eventType (a CloudEvent type;
// "": each message's own) through the sidecar's pub/sub component. Close
// it when done.
func (b Backend) Publisher(eventType string) *outbox.DaprPublisher {
	return &outbox.DaprPublisher{Address: b.Sidecar.GRPC(), PubSub: b.PubSubName, APIToken: b.Trust.Dapr.Token, EventType: eventType}
}
