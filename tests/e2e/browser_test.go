package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// webTool is a command from tools/web's pinned npm packages (`make web`).
func webTool(t *testing.T, root, path string) string {
	t.Helper()
	p := filepath.Join(root, "tools", "web", "node_modules", path)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s is missing: run `make web` (npm ci in tools/web)", p)
	}
	return p
}

// chromium is Debian's Chromium, which the browser test drives.
func chromium(t *testing.T) string {
	t.Helper()
	p := os.Getenv("CHROMIUM")
	if p == "" {
		p = "/usr/bin/chromium"
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("the browser test needs Chromium at %s (apt-get install chromium; or set CHROMIUM)", p)
	}
	return p
}

// The staff console, driven in headless Chromium: log in, register, find
// by surname (alone, with the date of birth, folded), edit, a 412 from a
// change underneath, the audit trail, the analytics chart, a new clinician
// who is offered no delete button, billing with postings and a reversal,
// every submit button double-clicked with one effect each, every page as
// each role at desktop and phone widths with no horizontal overflow and no
// serious accessibility violation (axe-core), and /docs rendering the
// OpenAPI document. Screenshots of each page go to the test's artifact
// directory (go test -artifacts keeps them).
func TestStaffConsoleInABrowser(t *testing.T) {
	root, err := repoRoot()
	require.NoError(t, err)
	out := t.ArtifactDir()
	cmd := exec.Command("node", filepath.Join(root, "tests", "browser", "console.mjs"))
	cmd.Env = append(os.Environ(),
		"GATEWAY="+gateway,
		"ADMIN_EMAIL="+sys.AdminEmail,
		"ADMIN_PASSWORD="+sys.AdminPassword,
		"OUT_DIR="+out,
		"CHROMIUM="+chromium(t),
		"PLAYWRIGHT="+webTool(t, root, filepath.Join("playwright-core", "index.mjs")),
		"AXE="+webTool(t, root, filepath.Join("axe-core", "axe.min.js")),
	)
	output, err := cmd.CombinedOutput()
	t.Logf("console.mjs:\n%s", output)
	require.NoError(t, err, "the browser walk failed (screenshots in %s)", out)
	shots, _ := filepath.Glob(filepath.Join(out, "*.png"))
	assert.GreaterOrEqual(t, len(shots), 10, "a screenshot of each page")
}

// Every request in api-requests/ runs as written with httpyac (the admin
// password from the environment, the token from the login's named
// response) and answers the status its "# expect" comment names.
func TestRequestFilesRunAsWritten(t *testing.T) {
	root, err := repoRoot()
	require.NoError(t, err)
	httpyac := webTool(t, root, filepath.Join(".bin", "httpyac"))
	files, err := filepath.Glob(filepath.Join(root, "api-requests", "*.http"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			want := expectedStatuses(t, file)
			cmd := exec.Command(httpyac, "send", file, "--all", "--json", "-o", "short")
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "PMS_ADMIN_PASSWORD="+sys.AdminPassword)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			stdout, err := cmd.Output()
			require.NoError(t, err, "httpyac: %s", stderr.String())
			var run struct {
				Requests []struct {
					Title    string `json:"title"`
					Response *struct {
						StatusCode int `json:"statusCode"`
					} `json:"response"`
				} `json:"requests"`
			}
			require.NoError(t, json.Unmarshal(stdout, &run), "httpyac's JSON: %s", stdout)
			require.Len(t, run.Requests, len(want), "every request ran, and each has an # expect line")
			for i, r := range run.Requests {
				if !assert.NotNil(t, r.Response, "%q got no response (a variable did not resolve?): %s", r.Title, stderr.String()) {
					continue
				}
				assert.Contains(t, want[i], r.Response.StatusCode, "%q", r.Title)
			}
		})
	}
}

// expectedStatuses reads each request's "# expect 200 [409 ...]" line, in
// order.
func expectedStatuses(t *testing.T, file string) [][]int {
	t.Helper()
	f, err := os.Open(file)
	require.NoError(t, err)
	defer f.Close()
	var all [][]int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "# expect ")
		if !ok {
			continue
		}
		var codes []int
		for _, f := range strings.Fields(rest) {
			n, err := strconv.Atoi(f)
			require.NoError(t, err, "%s: # expect %s", file, rest)
			codes = append(codes, n)
		}
		all = append(all, codes)
	}
	require.NoError(t, sc.Err())
	return all
}
