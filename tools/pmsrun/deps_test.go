package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/tools/pmsrun/runner"
)

// The file `pmsrun deps` writes exports, through a POSIX shell, exactly
// the values the CLI's sidecars and apps need, a multi-line PEM and
// quotes included.
func TestDepsEnvExportsWhatTheCLINeeds(t *testing.T) {
	pem := "-----BEGIN CERTIFICATE-----\nMIIB'x\n-----END CERTIFICATE-----\n"
	sys := &runner.System{PostgresURL: "postgres://postgres:s3cr%27t@127.0.0.1:5432/postgres?sslmode=disable",
		KafkaBrokers: "127.0.0.1:9092", Sentry: &runner.Sentry{Address: "127.0.0.1:50001", TrustAnchors: []byte(pem)},
		AdminPassword: "admin-pw"}
	env, err := cliEnv(sys)
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "cli.env")
	require.NoError(t, os.WriteFile(file, []byte(env), 0o600))
	out, err := exec.Command("sh", "-c", `. "$1" && printf '%s|%s|%s|%s|%s|%s' "$PGPASSWORD" "$KAFKA_BROKERS" "$DAPR_TRUST_ANCHORS" "$DAPR_API_TOKEN_OPTIONAL" "$AUTH_BOOTSTRAP_ADMIN_PASSWORD" "$APP_API_TOKEN"`, "sh", file).Output()
	require.NoError(t, err)
	got := strings.Split(string(out), "|")
	require.Len(t, got, 6)
	assert.Equal(t, []string{"s3cr't", "127.0.0.1:9092", pem, "true", "admin-pw"}, got[:5])
	assert.Len(t, got[5], 64, "a generated app API token")
	assert.NotContains(t, env, "DAPR_API_TOKEN=", "the CLI's sidecars get no Dapr API token")
}
