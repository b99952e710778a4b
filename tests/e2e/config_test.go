package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every app logs the configuration it runs with at start, and no log of
// any app or sidecar holds a secret it was given: not the app or Dapr API
// tokens, not the bootstrap admin's password.
func TestStartUpLogsMaskSecrets(t *testing.T) {
	var secrets []string
	for _, a := range sys.Apps() {
		secrets = append(secrets, a.AppAPIToken, a.DaprAPIToken)
	}
	require.NotEmpty(t, sys.AdminPassword, "the runner generated the admin's password")
	secrets = append(secrets, sys.AdminPassword)
	for _, a := range sys.Apps() {
		files, err := filepath.Glob(filepath.Join(a.LogDir, "*.log"))
		require.NoError(t, err)
		configured := false
		for _, f := range files {
			raw, err := os.ReadFile(f)
			require.NoError(t, err)
			configured = configured || strings.Contains(string(raw), `"msg":"configuration"`)
			for _, s := range secrets {
				assert.NotContains(t, string(raw), s, "%s holds a secret", f)
			}
		}
		assert.True(t, configured, "%s logged its configuration at start", a.ID)
	}
}
