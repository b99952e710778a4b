// Package e2e tests the running system: the runner starts PostgreSQL, the
// Kafka-protocol broker and all five apps beside real daprd sidecars, and
// the tests talk to it the way clients and operators do.
package e2e

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/pms-dapr/pms/tools/pmsrun/runner"
)

// sys is the stack every test in the package shares.
var sys *runner.System

// adminToken is an access token of the development admin.
var adminToken string

const gateway = "http://127.0.0.1:4004"

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("e2e: skipped under -short: the suite starts the whole system (bin/ from make build, PostgreSQL, daprd); make test runs it")
		os.Exit(0)
	}
	os.Exit(run(m))
}

func run(m *testing.M) int {
	root, err := repoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	consolePath := filepath.Join(root, ".data", "e2e-console.log")
	_ = os.MkdirAll(filepath.Dir(consolePath), 0o755)
	console, err := os.Create(consolePath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer console.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rules, err := quickAlertRules(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	sys, err = runner.Start(ctx, runner.Options{Template: root, Console: console, AlertRules: []string{rules}})
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: the system did not start (run `make build` first; output in %s):\n%v\n", consolePath, err)
		return 1
	}
	s, status, err := login(sys.AdminEmail, sys.AdminPassword)
	if err != nil || status != 200 {
		fmt.Fprintf(os.Stderr, "e2e: admin login failed: status %d, %v\n", status, err)
		sys.Stop()
		return 1
	}
	adminToken = s.AccessToken
	if err := waitRoutable(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: the gateway cannot reach every app: %v\n", err)
		sys.Stop()
		return 1
	}
	code := m.Run()
	if err := checkOpenAPI(root); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: FAIL: gateway responses and the OpenAPI document disagree:\n%v\n", err)
		code = 1
	}

	pids := sys.PIDs() // after the tests: restarted apps have new ones
	sys.Stop()
	if left := alive(pids); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "e2e: FAIL: processes still running after the runner stopped: %v\n", left)
		return 1
	}
	fmt.Printf("e2e: runner stopped; none of its %d processes remain\n", len(pids))
	if code != 0 {
		fmt.Fprintf(os.Stderr, "e2e: process output is in %s and each app's .dapr/logs\n", consolePath)
	}
	return code
}

// alive returns the pids whose process group still has a member: each
// process the runner starts leads its own group, so this also catches
// children it spawned (PostgreSQL's backends, say).
func alive(pids []int) []int {
	var left []int
	for _, pid := range pids {
		if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
			left = append(left, pid)
		}
	}
	return left
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "dapr.yaml")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("dapr.yaml not found above the test directory")
		}
		dir = parent
	}
}

// waitRoutable waits until the gateway reaches every app it routes to:
// sidecars report healthy before they resolve each other by name (mDNS),
// and tests run in random order, so none may be the first to find out.
// Tests that restart an app call it too before the next test runs: a
// restarted sidecar is healthy a moment before the others find it.
func waitRoutable(ctx context.Context) error {
	for _, path := range []string{"/patients?limit=1", "/analytics/summary", "/auth/users"} {
		for {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, gateway+path, nil)
			if err != nil {
				return err
			}
			req.Header.Set("Authorization", "Bearer "+adminToken)
			resp, err := httpClient.Do(req)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("GET %s: %w", path, ctx.Err())
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
	return nil
}
