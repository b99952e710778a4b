package billingdb_test

import (
	"os"
	"testing"

	"github.com/pms-dapr/pms/platform/pgtest"
)

// TestMain removes the PostgreSQL container the tests started, if any
// (pgtest: without PMS_TEST_DATABASE_URL they start one).
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
