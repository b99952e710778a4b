// Package docs checks the documentation as a reader follows it: every
// relative link in README.md and docs/ leads to a file that exists, and a
// link to a heading (#anchor) to a heading that exists.
package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// link matches an inline Markdown link's target: [text](target).
var link = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// heading matches a Markdown heading line.
var heading = regexp.MustCompile(`(?m)^#{1,6}\s+(.+?)\s*#*\s*$`)

// fence matches a fenced code block, whose text is not Markdown.
var fence = regexp.MustCompile("(?ms)^```.*?^```")

func TestRelativeLinksResolve(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	files := []string{filepath.Join(root, "README.md")}
	err = filepath.WalkDir(filepath.Join(root, "docs"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".md") {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatalf("docs/: %v", err)
	}
	checked := 0
	for _, f := range files {
		for _, target := range links(t, f) {
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			checked++
			if problem := resolve(f, target); problem != "" {
				rel, _ := filepath.Rel(root, f)
				t.Errorf("%s: link %q: %s", rel, target, problem)
			}
		}
	}
	if checked < 10 {
		t.Errorf("only %d relative links found in %d files: is the link pattern still right?", checked, len(files))
	}
}

func links(t *testing.T, file string) []string {
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range link.FindAllStringSubmatch(fence.ReplaceAllString(string(b), ""), -1) {
		out = append(out, m[1])
	}
	return out
}

// resolve returns what is wrong with target, linked from file, or "".
func resolve(file, target string) string {
	path, anchor, _ := strings.Cut(target, "#")
	dest := file
	if path != "" {
		dest = filepath.Join(filepath.Dir(file), filepath.FromSlash(path))
		info, err := os.Stat(dest)
		if err != nil {
			return "no such file or directory"
		}
		if info.IsDir() || anchor == "" || !strings.HasSuffix(dest, ".md") {
			return ""
		}
	}
	b, err := os.ReadFile(dest)
	if err != nil {
		return err.Error()
	}
	for _, m := range heading.FindAllStringSubmatch(fence.ReplaceAllString(string(b), ""), -1) {
		if slug(m[1]) == anchor {
			return ""
		}
	}
	return "no heading #" + anchor + " in " + filepath.Base(dest)
}

// slug is the anchor GitHub gives a heading: lower case, spaces to hyphens,
// punctuation dropped.
func slug(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127:
			b.WriteRune(r)
		}
	}
	return b.String()
}
