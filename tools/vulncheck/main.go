// Command vulncheck runs govulncheck (golang.org/x/vuln/scan) over Go
// modules with a local vulnerability database and fails when any module's
// code calls a known-vulnerable function, unless that vulnerability's ID is
// listed, with its reason, in the accepted file.
//
//	vulncheck -db DIR [-accept FILE] MODULE_DIR[:BUILD_TAGS]...
//
// Vulnerabilities in imported code that is never called are counted and
// reported, not failed on: they cannot be reached from our code.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/vuln/scan"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "vulncheck:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("vulncheck", flag.ContinueOnError)
	db := fs.String("db", "", "directory of the vulnerability database (indexdb output)")
	acceptFile := fs.String("accept", "", "file listing accepted vulnerability IDs, one per line, each with a # reason")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *db == "" || fs.NArg() == 0 {
		return errors.New("usage: vulncheck -db DIR [-accept FILE] MODULE_DIR[:TAGS]...")
	}
	dbDir, err := filepath.Abs(*db)
	if err != nil {
		return err
	}
	accepted, err := readAccepted(*acceptFile)
	if err != nil {
		return err
	}
	used := map[string]bool{}
	var failed []string
	for _, arg := range fs.Args() {
		dir, tags, _ := strings.Cut(arg, ":")
		res, err := scanModule(ctx, dbDir, dir, tags)
		if err != nil {
			return fmt.Errorf("%s: %w", dir, err)
		}
		fmt.Fprintf(out, "%s: %d reachable, %d imported but not called\n", dir, len(res.called), len(res.imported))
		for _, id := range sortedKeys(res.called) {
			if accepted[id] {
				used[id] = true
				fmt.Fprintf(out, "  %s accepted (see %s): %s\n", id, *acceptFile, res.called[id])
				continue
			}
			fmt.Fprintf(out, "  %s REACHABLE: %s (fixed in %s)\n", id, res.called[id], res.fixed[id])
			failed = append(failed, dir+": "+id)
		}
	}
	for _, id := range sortedKeys(accepted) {
		if !used[id] {
			fmt.Fprintf(out, "note: %s is accepted but no longer found; remove it from %s\n", id, *acceptFile)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d reachable vulnerabilities:\n  %s", len(failed), strings.Join(failed, "\n  "))
	}
	return nil
}

// result is what one module's scan found: reachable vulnerabilities with
// the first call into vulnerable code, and ones only imported.
type result struct {
	called   map[string]string
	fixed    map[string]string
	imported map[string]bool
}

// message is the part of govulncheck's JSON stream read here.
type message struct {
	Finding *struct {
		OSV          string `json:"osv"`
		FixedVersion string `json:"fixed_version"`
		Trace        []struct {
			Module   string `json:"module"`
			Package  string `json:"package"`
			Function string `json:"function"`
			Receiver string `json:"receiver"`
		} `json:"trace"`
	} `json:"finding"`
}

func scanModule(ctx context.Context, db, dir, tags string) (result, error) {
	args := []string{"-C", dir, "-db", "file://" + db, "-format", "json"}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	var stdout, stderr bytes.Buffer
	cmd := scan.Command(ctx, append(args, "./...")...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Each module as it builds on its own (as the image build does), which
	// also covers modules outside go.work.
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if err := cmd.Start(); err != nil {
		return result{}, err
	}
	if err := cmd.Wait(); err != nil {
		return result{}, fmt.Errorf("govulncheck: %w\n%s", err, stderr.String())
	}
	res := result{called: map[string]string{}, fixed: map[string]string{}, imported: map[string]bool{}}
	dec := json.NewDecoder(&stdout)
	for {
		var m message
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return result{}, fmt.Errorf("govulncheck output: %w", err)
		}
		f := m.Finding
		if f == nil || len(f.Trace) == 0 {
			continue
		}
		if top := f.Trace[0]; top.Function != "" {
			sym := top.Function
			if top.Receiver != "" {
				sym = top.Receiver + "." + sym
			}
			if _, seen := res.called[f.OSV]; !seen {
				res.called[f.OSV] = top.Package + "." + sym
			}
			res.fixed[f.OSV] = f.FixedVersion
			delete(res.imported, f.OSV)
		} else if _, called := res.called[f.OSV]; !called {
			res.imported[f.OSV] = true
		}
	}
	return res, nil
}

// readAccepted reads IDs, one per line; "#" starts a comment, and every ID
// must have one (its reason).
func readAccepted(path string) (map[string]bool, error) {
	ids := map[string]bool{}
	if path == "" {
		return ids, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, reason, _ := strings.Cut(line, "#")
		id = strings.TrimSpace(id)
		if strings.TrimSpace(reason) == "" || strings.ContainsAny(id, " \t") {
			return nil, fmt.Errorf("%s:%d: want `ID # reason`", path, n)
		}
		ids[id] = true
	}
	return ids, sc.Err()
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
