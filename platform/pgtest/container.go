package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/modules/postgres"
)

// EnvImage names the variable holding the PostgreSQL image the tests start
// when EnvURL is not set (the same variable docker-compose.yml reads).
const EnvImage = "POSTGRES_IMAGE"

// DefaultImage is the official image the container is started from.
const DefaultImage = "postgres:15.10-bookworm"

var server struct {
	once sync.Once
	ctr  *postgres.PostgresContainer
	url  string
	err  error
}

// Main runs a package's tests and then removes the PostgreSQL container
// they started, if any. A package with store tests calls it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	if server.ctr != nil {
		if err := testcontainers.TerminateContainer(server.ctr); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: remove the PostgreSQL container: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

// containerURL starts the package's PostgreSQL container once and returns
// its superuser's URL. Its port is published on 127.0.0.1 only.
func containerURL() (string, error) {
	server.once.Do(func() {
		image := os.Getenv(EnvImage)
		if image == "" {
			image = DefaultImage
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		server.ctr, server.err = postgres.Run(ctx, image,
			postgres.WithUsername("postgres"),
			postgres.WithPassword(randomHex()),
			postgres.WithDatabase("postgres"),
			postgres.BasicWaitStrategies(),
			testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
				hc.PortBindings = network.PortMap{
					network.MustParsePort("5432/tcp"): {{HostIP: netip.MustParseAddr("127.0.0.1")}},
				}
			}),
		)
		if server.err != nil {
			if server.ctr != nil {
				_ = testcontainers.TerminateContainer(server.ctr)
				server.ctr = nil
			}
			return
		}
		server.url, server.err = server.ctr.ConnectionString(ctx, "sslmode=disable")
		if server.err == nil && server.url == "" {
			server.err = errors.New("no connection string")
		}
	})
	return server.url, server.err
}
