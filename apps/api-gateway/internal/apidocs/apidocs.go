// Package apidocs serves the gateway's API contract: the OpenAPI document
// itself and a reference page generated from it, so the docs a person reads
// are the document the tests check responses against.
package apidocs

import (
	_ "embed"
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Document is the OpenAPI 3.1 description of everything the gateway serves.
//
//go:embed openapi.yaml
var Document []byte

// Spec serves the document.
func Spec(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(Document)
}

type doc struct {
	Info struct {
		Title       string `yaml:"title"`
		Version     string `yaml:"version"`
		Description string `yaml:"description"`
	} `yaml:"info"`
	Paths map[string]map[string]yaml.Node `yaml:"paths"`
}

type operation struct {
	Summary     string `yaml:"summary"`
	Description string `yaml:"description"`
	Security    *[]any `yaml:"security"`
	Parameters  []struct {
		Name     string `yaml:"name"`
		In       string `yaml:"in"`
		Required bool   `yaml:"required"`
		Ref      string `yaml:"$ref"`
	} `yaml:"parameters"`
	Responses map[string]yaml.Node `yaml:"responses"`
}

type entry struct {
	Method, Path, Summary, Description string
	Public                             bool
	Params                             []string
	Statuses                           string
}

// Page renders the reference page. It is built once: the document is
// embedded and cannot change while the gateway runs.
func Page() (http.HandlerFunc, error) {
	var d doc
	if err := yaml.Unmarshal(Document, &d); err != nil {
		return nil, fmt.Errorf("apidocs: %w", err)
	}
	var entries []entry
	for path, item := range d.Paths {
		for method, node := range item {
			if method == "parameters" {
				continue
			}
			var op operation
			if err := node.Decode(&op); err != nil {
				return nil, fmt.Errorf("apidocs: %s %s: %w", method, path, err)
			}
			e := entry{Method: strings.ToUpper(method), Path: path, Summary: op.Summary, Description: op.Description,
				Public: op.Security != nil && len(*op.Security) == 0}
			for _, p := range op.Parameters {
				switch {
				case p.Ref != "":
					e.Params = append(e.Params, p.Ref[strings.LastIndex(p.Ref, "/")+1:]+" (header, required)")
				case p.Required:
					e.Params = append(e.Params, p.Name+" ("+p.In+", required)")
				default:
					e.Params = append(e.Params, p.Name+" ("+p.In+")")
				}
			}
			codes := make([]string, 0, len(op.Responses))
			for c := range op.Responses {
				codes = append(codes, c)
			}
			sort.Strings(codes)
			e.Statuses = strings.Join(codes, ", ")
			entries = append(entries, e)
		}
	}
	sort.Slice(entries, func(i, j int) bool {
		if entries[i].Path != entries[j].Path {
			return entries[i].Path < entries[j].Path
		}
		return entries[i].Method < entries[j].Method
	})
	var b strings.Builder
	if err := page.Execute(&b, map[string]any{"Info": d.Info, "Entries": entries}); err != nil {
		return nil, fmt.Errorf("apidocs: %w", err)
	}
	html := []byte(b.String())
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		_, _ = w.Write(html)
	}, nil
}

var page = template.Must(template.New("docs").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Info.Title}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.4}
h2{font-size:1.05rem;margin:1.6rem 0 .3rem}code{background:#f3f3f3;padding:0 .25rem}
.m{display:inline-block;min-width:4.5rem;font-weight:bold}.pub{color:#666;font-size:.85rem}p{margin:.3rem 0}</style></head>
<body><h1>{{.Info.Title}} <small>{{.Info.Version}}</small></h1>
<p>{{.Info.Description}}</p><p>Machine-readable: <a href="/openapi.yaml">/openapi.yaml</a> (OpenAPI 3.1).</p>
{{range .Entries}}<h2><span class="m">{{.Method}}</span> <code>{{.Path}}</code>{{if .Public}} <span class="pub">no token needed</span>{{end}}</h2>
<p>{{.Summary}}</p>{{if .Description}}<p>{{.Description}}</p>{{end}}
{{if .Params}}<p>Parameters: {{range $i, $p := .Params}}{{if $i}}, {{end}}{{$p}}{{end}}</p>{{end}}
<p>Responses: {{.Statuses}}</p>{{end}}
</body></html>`))
