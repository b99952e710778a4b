package runner

import (
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strings"
	"time"
)

// The trace view: recent traces (of one service, or all), and one trace as
// a waterfall with each span's attributes and the log lines that carry its
// id. Plain HTML, no script.

var viewTemplates = template.Must(template.New("").Funcs(template.FuncMap{
	"ms": func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) },
}).Parse(`
{{define "head"}}<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{{.}} · traces</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px system-ui,sans-serif;margin:1rem 2rem;color:#1b1b1b}
table{border-collapse:collapse;width:100%}td,th{padding:.25rem .5rem;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
.bar{position:relative;height:.9rem;background:#f1f1f1;min-width:20rem}.bar span{position:absolute;top:0;bottom:0;background:#2b6cb0}
.daprd .bar span{background:#6b46c1}.err{color:#b00020}code,pre{font:12px ui-monospace,monospace}pre{white-space:pre-wrap;margin:0}
nav a{margin-right:.75rem}
</style></head><body>{{end}}

{{define "list"}}{{template "head" "Recent"}}
<h1>Recent traces{{if .Service}} of {{.Service}}{{end}}</h1>
<nav><a href="/">all</a>{{range .Services}}<a href="/?service={{.}}">{{.}}</a>{{end}}</nav>
<table><thead><tr><th>Started</th><th>Root</th><th>Services</th><th>Spans</th><th>Duration</th></tr></thead><tbody>
{{range .Rows}}<tr><td>{{.Start.Format "15:04:05.000"}}</td><td><a href="/trace/{{.ID}}">{{.Root}}</a></td><td>{{.Services}}</td><td>{{.Spans}}</td><td>{{ms .Duration}}</td></tr>
{{else}}<tr><td colspan="5">No trace yet: send a request through the gateway.</td></tr>{{end}}
</tbody></table><p>API: <code>/api/services</code>, <code>/api/traces?service=…</code>, <code>/api/traces/{id}</code> (Jaeger's query API shape).</p></body></html>{{end}}

{{define "trace"}}{{template "head" .ID}}
<p><a href="/">← recent traces</a></p><h1>Trace <code>{{.ID}}</code></h1><p>{{.Count}} spans, {{ms .Duration}}</p>
<table><thead><tr><th>Span</th><th>Service</th><th>Duration</th><th>Timeline</th></tr></thead><tbody>
{{range .Rows}}<tr class="{{.Process}}"><td style="padding-left:{{.Indent}}rem"><details><summary{{if .Err}} class="err"{{end}}>{{.Name}}</summary>
<pre>{{range .Attrs}}{{.}}
{{end}}</pre></details></td><td>{{.Service}}{{if eq .Process "daprd"}} (sidecar){{end}}</td><td>{{ms .Duration}}</td>
<td><div class="bar"><span style="left:{{.Left}}%;width:{{.Width}}%"></span></div></td></tr>{{end}}
</tbody></table>
<h2>Log lines</h2>{{range .Logs}}<pre><b>{{.App}}</b> {{.Line}}</pre>{{else}}<p>None carry this trace's id.</p>{{end}}
</body></html>{{end}}
`))

type listRow struct {
	ID, Root, Services string
	Spans              int
	Start              time.Time
	Duration           time.Duration
}

func (t *Traces) list(w http.ResponseWriter, r *http.Request) {
	service := r.URL.Query().Get("service")
	var rows []listRow
	for _, id := range t.Recent(service, 100) {
		spans, _ := t.Trace(id)
		if len(spans) == 0 {
			continue
		}
		start, end := bounds(spans)
		root := spans[0]
		services := map[string]bool{}
		for _, s := range spans {
			services[s.Service] = true
			if s.ParentID == "" || !has(spans, s.ParentID) {
				root = s
			}
		}
		names := make([]string, 0, len(services))
		for s := range services {
			names = append(names, s)
		}
		sort.Strings(names)
		rows = append(rows, listRow{ID: id, Root: root.Service + ": " + root.Name, Services: strings.Join(names, ", "),
			Spans: len(spans), Start: start, Duration: end.Sub(start)})
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = viewTemplates.ExecuteTemplate(w, "list", map[string]any{"Service": service, "Services": t.Services(), "Rows": rows})
}

type waterfallRow struct {
	Name, Service, Process string
	Indent                 int
	Left, Width            string
	Duration               time.Duration
	Attrs                  []string
	Err                    bool
}

func (t *Traces) waterfall(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	spans, logs := t.Trace(id)
	if len(spans) == 0 {
		http.Error(w, "No such trace (only the most recent are kept).", http.StatusNotFound)
		return
	}
	start, end := bounds(spans)
	total := max(end.Sub(start), time.Microsecond)
	var rows []waterfallRow
	var walk func(parent string, depth int)
	seen := map[string]bool{}
	walk = func(parent string, depth int) {
		for _, s := range spans {
			isRoot := parent == "" && (s.ParentID == "" || !has(spans, s.ParentID))
			if seen[s.SpanID] || (!isRoot && s.ParentID != parent) || (parent == "" && !isRoot) {
				continue
			}
			seen[s.SpanID] = true
			attrs := []string{"kind: " + s.Kind}
			for k, v := range s.Attributes {
				attrs = append(attrs, fmt.Sprintf("%s: %v", k, v))
			}
			sort.Strings(attrs[1:])
			if s.Status != "" {
				attrs = append(attrs, "status: "+s.Status)
			}
			for _, l := range s.Links {
				attrs = append(attrs, "link: "+l)
			}
			rows = append(rows, waterfallRow{Name: s.Name, Service: s.Service, Process: s.Process, Indent: depth,
				Left:     fmt.Sprintf("%.2f", 100*float64(s.Start.Sub(start))/float64(total)),
				Width:    fmt.Sprintf("%.2f", max(0.3, 100*float64(s.End.Sub(s.Start))/float64(total))),
				Duration: s.End.Sub(s.Start), Attrs: attrs, Err: strings.HasPrefix(s.Status, "ERROR")})
			walk(s.SpanID, depth+1)
		}
	}
	walk("", 0)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = viewTemplates.ExecuteTemplate(w, "trace", map[string]any{"ID": id, "Count": len(spans), "Duration": end.Sub(start), "Rows": rows, "Logs": logs})
}

func bounds(spans []Span) (start, end time.Time) {
	start, end = spans[0].Start, spans[0].End
	for _, s := range spans {
		if s.Start.Before(start) {
			start = s.Start
		}
		if s.End.After(end) {
			end = s.End
		}
	}
	return start, end
}

func has(spans []Span, id string) bool {
	for _, s := range spans {
		if s.SpanID == id {
			return true
		}
	}
	return false
}
