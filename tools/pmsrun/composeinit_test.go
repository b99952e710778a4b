package main

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// compose-init generates exactly the secrets .env.example asks for, so a
// variable added to docker-compose.yml and the example cannot be missed.
func TestComposeInitGeneratesEverySecretOfTheExample(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "..", ".env.example"))
	require.NoError(t, err)
	defer f.Close()
	var placeholders []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), "=")
		if ok && !strings.HasPrefix(name, "#") && strings.Contains(value, "change-me") && name != "DAPR_TRUST_ANCHORS" {
			placeholders = append(placeholders, name)
		}
	}
	require.NoError(t, sc.Err())
	slices.Sort(placeholders)
	generated := slices.Sorted(slices.Values(composeSecretVars))
	assert.Equal(t, placeholders, generated)
}

func TestComposeInitNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	env := filepath.Join(dir, ".env")
	require.NoError(t, os.WriteFile(env, []byte("KEEP=1\n"), 0o600))
	err := composeInit(t.Context(), []string{"-env", env, "-secrets", filepath.Join(dir, "secrets"), "-sentry", "/nonexistent"})
	require.ErrorContains(t, err, "exists")
	got, _ := os.ReadFile(env)
	assert.Equal(t, "KEEP=1\n", string(got))
	assert.NoDirExists(t, filepath.Join(dir, "secrets"))
}
