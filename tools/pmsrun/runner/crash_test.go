package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An app that dies during start-up fails Start with its last log lines, and
// nothing the run started is left behind.
func TestStartReportsCrashedAppWithItsLastLines(t *testing.T) {
	pg := os.Getenv("PMS_TEST_DATABASE_URL")
	if pg == "" {
		t.Fatal("PMS_TEST_DATABASE_URL is not set: run `make test`")
	}
	dir := t.TempDir()
	fakeDaprd := filepath.Join(dir, "daprd")
	pidFile := filepath.Join(dir, "daprd.pid")
	require.NoError(t, os.WriteFile(fakeDaprd, []byte("#!/bin/sh\necho $$ > '"+pidFile+"'\nexec sleep 300\n"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "dapr.yaml"), []byte(`
version: 1
apps:
  - appID: doomed
    appDirPath: .
    command: ["sh", "-c", "echo starting; echo 'fatal: config is broken' >&2; exit 3"]
`), 0o644))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sys, err := Start(ctx, Options{Template: dir, Daprd: fakeDaprd, PostgresURL: pg, KafkaBrokers: "127.0.0.1:1"})
	require.Error(t, err)
	assert.Nil(t, sys)
	assert.Contains(t, err.Error(), "doomed exited unexpectedly")
	assert.Contains(t, err.Error(), "fatal: config is broken")

	logs, _ := filepath.Glob(filepath.Join(dir, ".dapr", "logs", "doomed_app_*.log"))
	require.Len(t, logs, 1)
	raw, _ := os.ReadFile(logs[0])
	assert.Contains(t, string(raw), "starting")

	// The fake sidecar (this run's own child, by the pid it wrote) was
	// stopped with the failed run.
	raw, err = os.ReadFile(pidFile)
	require.NoError(t, err, "the fake sidecar was started")
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	require.NoError(t, err)
	assert.Eventually(t, func() bool {
		return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
	}, 5*time.Second, 100*time.Millisecond, "sidecar %d still running", pid)
}
