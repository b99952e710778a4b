package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// subscriptionName matches the metadata name of a Dapr Subscription in a
// multi-document manifest.
var subscriptionName = regexp.MustCompile(`(?m)^kind: Subscription\s*\nmetadata:\s*\n\s+name:\s*(\S+)`)

// The architecture page names every platform package (with a link to it)
// and every subscription in components/, so neither can be added without
// the page saying what it is.
func TestArchitectureNamesEveryPlatformPackageAndSubscription(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(root, "docs", "architecture.md"))
	if err != nil {
		t.Fatal(err)
	}
	arch := string(page)

	entries, err := os.ReadDir(filepath.Join(root, "platform"))
	if err != nil {
		t.Fatal(err)
	}
	packages := 0
	for _, e := range entries {
		if goFiles, _ := filepath.Glob(filepath.Join(root, "platform", e.Name(), "*.go")); !e.IsDir() || len(goFiles) == 0 {
			continue // a data directory, not a package
		}
		packages++
		if !strings.Contains(arch, "(../platform/"+e.Name()+"/)") {
			t.Errorf("docs/architecture.md does not link platform/%s: add it to the platform table", e.Name())
		}
	}
	if packages < 10 {
		t.Fatalf("found %d platform packages; is the root right?", packages)
	}

	manifests, err := filepath.Glob(filepath.Join(root, "components", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	subscriptions := 0
	for _, m := range manifests {
		raw, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		for _, match := range subscriptionName.FindAllStringSubmatch(string(raw), -1) {
			subscriptions++
			if !strings.Contains(arch, "`"+match[1]+"`") {
				t.Errorf("docs/architecture.md does not name the subscription %s (%s)", match[1], filepath.Base(m))
			}
		}
	}
	if subscriptions == 0 {
		t.Fatal("found no Subscription in components/")
	}
}
