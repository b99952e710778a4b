package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An app that dies during start-up fails Start with its last log lines, and
// nothing the run started is left behind.
func TestStartReportsCrashedAppWithItsLastLines(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped under -short: it needs PostgreSQL (PMS_TEST_DATABASE_URL); make test runs it")
	}
	pg := os.Getenv("PMS_TEST_DATABASE_URL")
	if pg == "" {
		t.Fatal("PMS_TEST_DATABASE_URL is not set: run `make test`")
	}
	dir := t.TempDir()
	fakeDaprd := filepath.Join(dir, "daprd")
	// A sleep only this run starts: 300 s plus a fraction unique to it.
	sleepArg := fmt.Sprintf("300.%d", time.Now().UnixNano()%1_000_000_000)
	require.NoError(t, os.WriteFile(fakeDaprd, []byte("#!/bin/sh\nexec sleep "+sleepArg+"\n"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "dapr.yaml"), []byte(`
version: 1
apps:
  - appID: doomed
    appDirPath: .
    command: ["sh", "-c", "echo starting; echo 'fatal: config is broken' >&2; exit 3"]
`), 0o644))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sys, err := Start(ctx, Options{Template: dir, Daprd: fakeDaprd, WithoutMTLS: true, PostgresURL: pg, KafkaBrokers: "127.0.0.1:1"})
	require.Error(t, err)
	assert.Nil(t, sys)
	assert.Contains(t, err.Error(), "doomed exited unexpectedly")
	assert.Contains(t, err.Error(), "fatal: config is broken")

	logs, _ := filepath.Glob(filepath.Join(dir, ".dapr", "logs", "doomed_app_*.log"))
	require.Len(t, logs, 1)
	raw, _ := os.ReadFile(logs[0])
	assert.Contains(t, string(raw), "starting")

	// The fake sidecar (this run's own child, by its unique argument) was
	// stopped with the failed run, if it had started at all.
	assert.Eventually(t, func() bool {
		matches, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, m := range matches {
			b, _ := os.ReadFile(m)
			if string(b) == "sleep\x00"+sleepArg+"\x00" {
				return false
			}
		}
		return true
	}, 5*time.Second, 100*time.Millisecond)
}
