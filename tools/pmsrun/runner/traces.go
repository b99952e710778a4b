package runner

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	collectorv1 "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonv1 "go.opentelemetry.io/proto/otlp/common/v1"
	tracev1 "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
)

// Bounds of what Traces keeps: the most recent traces, and per trace at
// most so many spans and log lines.
const (
	maxTraces        = 2000
	maxSpansPerTrace = 1000
	maxLogsPerTrace  = 200
)

// Span is one received span.
type Span struct {
	TraceID, SpanID, ParentID string
	Name                      string
	Service                   string // the resource's service.name
	Process                   string // "app" or "daprd": which endpoint it came to
	Kind                      string
	Start, End                time.Time
	Attributes                map[string]any
	Status                    string // "", "OK" or "ERROR: <message>"
	Links                     []string
}

// LogLine is an app's log line that carries a trace's id.
type LogLine struct {
	App  string
	Line string
}

// Traces receives the spans of the apps and of their sidecars over OTLP
// (gRPC; one endpoint each, so a span says which process sent it), keeps
// the most recent traces in memory with the log lines that carry their
// ids, and serves them: a trace view and an API in the shape of Jaeger's
// query API (/api/services, /api/traces?service=…, /api/traces/{id}).
type Traces struct {
	AppEndpoint     string // host:port the apps export to
	SidecarEndpoint string // host:port the sidecars export to
	URL             string // the trace view and API

	mu     sync.Mutex
	traces map[string]*traceEntry
	order  []string // trace ids, oldest first

	servers []*grpc.Server
	web     *http.Server
}

type traceEntry struct {
	spans []Span
	logs  []LogLine
}

// StartTraces starts the receivers on picked loopback ports and the view on
// uiPort (another free port if it is taken).
func StartTraces(ports *PortPicker, uiPort int) (*Traces, error) {
	t := newTraces()
	for _, target := range []struct {
		process string
		addr    *string
	}{{"app", &t.AppEndpoint}, {"daprd", &t.SidecarEndpoint}} {
		port, err := ports.free()
		if err != nil {
			t.Stop()
			return nil, err
		}
		if *target.addr, err = t.receive(net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), target.process); err != nil {
			t.Stop()
			return nil, err
		}
	}
	port, err := ports.want(uiPort, true)
	if err != nil {
		t.Stop()
		return nil, err
	}
	if err := t.serveView(net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err != nil {
		t.Stop()
		return nil, err
	}
	return t, nil
}

// ServeTraces is the trace store on its own (`pmsrun trace-store`, the
// Compose stack's stand-in for Jaeger): one OTLP endpoint on otlpAddr for
// every process, the view and API on viewAddr.
func ServeTraces(otlpAddr, viewAddr string) (*Traces, error) {
	t := newTraces()
	var err error
	if t.AppEndpoint, err = t.receive(otlpAddr, ""); err != nil {
		return nil, err
	}
	t.SidecarEndpoint = t.AppEndpoint
	if err := t.serveView(viewAddr); err != nil {
		t.Stop()
		return nil, err
	}
	return t, nil
}

func newTraces() *Traces { return &Traces{traces: map[string]*traceEntry{}} }

// receive serves OTLP on addr, filing what arrives under process.
func (t *Traces) receive(addr, process string) (string, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("runner: traces: %w", err)
	}
	srv := grpc.NewServer()
	collectorv1.RegisterTraceServiceServer(srv, receiver{t: t, process: process})
	go func() { _ = srv.Serve(lis) }()
	t.servers = append(t.servers, srv)
	return lis.Addr().String(), nil
}

// serveView serves the view and the API on addr.
func (t *Traces) serveView(addr string) error {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("runner: trace view: %w", err)
	}
	t.URL = "http://" + lis.Addr().String()
	t.web = &http.Server{Handler: t.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = t.web.Serve(lis) }()
	return nil
}

// Stop stops the receivers and the view.
func (t *Traces) Stop() {
	for _, s := range t.servers {
		s.Stop()
	}
	if t.web != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = t.web.Shutdown(ctx)
	}
}

type receiver struct {
	collectorv1.UnimplementedTraceServiceServer
	t       *Traces
	process string
}

func (r receiver) Export(_ context.Context, req *collectorv1.ExportTraceServiceRequest) (*collectorv1.ExportTraceServiceResponse, error) {
	for _, rs := range req.GetResourceSpans() {
		service := ""
		for _, a := range rs.GetResource().GetAttributes() {
			if a.GetKey() == "service.name" {
				service = a.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				r.t.add(convert(s, service, r.process))
			}
		}
	}
	return &collectorv1.ExportTraceServiceResponse{}, nil
}

func convert(s *tracev1.Span, service, process string) Span {
	out := Span{
		TraceID: hex.EncodeToString(s.GetTraceId()), SpanID: hex.EncodeToString(s.GetSpanId()),
		ParentID: hex.EncodeToString(s.GetParentSpanId()), Name: s.GetName(), Service: service, Process: process,
		Kind:  strings.ToLower(strings.TrimPrefix(s.GetKind().String(), "SPAN_KIND_")),
		Start: time.Unix(0, int64(s.GetStartTimeUnixNano())), End: time.Unix(0, int64(s.GetEndTimeUnixNano())),
		Attributes: map[string]any{},
	}
	for _, a := range s.GetAttributes() {
		out.Attributes[a.GetKey()] = value(a.GetValue())
	}
	switch s.GetStatus().GetCode() {
	case tracev1.Status_STATUS_CODE_OK:
		out.Status = "OK"
	case tracev1.Status_STATUS_CODE_ERROR:
		out.Status = "ERROR: " + s.GetStatus().GetMessage()
	}
	for _, l := range s.GetLinks() {
		out.Links = append(out.Links, hex.EncodeToString(l.GetTraceId())+"/"+hex.EncodeToString(l.GetSpanId()))
	}
	return out
}

func value(v *commonv1.AnyValue) any {
	switch x := v.GetValue().(type) {
	case *commonv1.AnyValue_StringValue:
		return x.StringValue
	case *commonv1.AnyValue_IntValue:
		return x.IntValue
	case *commonv1.AnyValue_DoubleValue:
		return x.DoubleValue
	case *commonv1.AnyValue_BoolValue:
		return x.BoolValue
	default:
		return fmt.Sprint(v.GetValue())
	}
}

// entry returns the trace's entry, making room for it when it is new.
func (t *Traces) entry(id string) *traceEntry {
	e, ok := t.traces[id]
	if ok {
		return e
	}
	if len(t.order) >= maxTraces {
		delete(t.traces, t.order[0])
		t.order = t.order[1:]
	}
	e = &traceEntry{}
	t.traces[id] = e
	t.order = append(t.order, id)
	return e
}

func (t *Traces) add(s Span) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entry(s.TraceID)
	if len(e.spans) < maxSpansPerTrace {
		e.spans = append(e.spans, s)
	}
}

// noteLog keeps an app's log line under the trace whose id it carries.
func (t *Traces) noteLog(app, line string) {
	i := strings.Index(line, `"trace_id":"`)
	if i < 0 {
		return
	}
	rest := line[i+len(`"trace_id":"`):]
	if len(rest) < 32 {
		return
	}
	id := rest[:32]
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entry(id)
	if len(e.logs) < maxLogsPerTrace {
		e.logs = append(e.logs, LogLine{App: app, Line: line})
	}
}

// Trace returns the spans of trace id, oldest first, and its log lines.
func (t *Traces) Trace(id string) ([]Span, []LogLine) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.traces[strings.ToLower(id)]
	if !ok {
		return nil, nil
	}
	spans := append([]Span(nil), e.spans...)
	sort.SliceStable(spans, func(i, j int) bool { return spans[i].Start.Before(spans[j].Start) })
	return spans, append([]LogLine(nil), e.logs...)
}

// Services lists the services that sent spans.
func (t *Traces) Services() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	seen := map[string]bool{}
	for _, e := range t.traces {
		for _, s := range e.spans {
			seen[s.Service] = true
		}
	}
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// Recent lists the ids of the most recent traces with a span of service
// ("": any), newest first, at most limit.
func (t *Traces) Recent(service string, limit int) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for i := len(t.order) - 1; i >= 0 && len(out) < limit; i-- {
		e := t.traces[t.order[i]]
		for _, s := range e.spans {
			if service == "" || s.Service == service {
				out = append(out, t.order[i])
				break
			}
		}
	}
	return out
}

// Handler serves the trace view and the Jaeger-shaped API.
func (t *Traces) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/services", func(w http.ResponseWriter, _ *http.Request) {
		services := t.Services()
		writeJSON(w, map[string]any{"data": services, "total": len(services)})
	})
	mux.HandleFunc("GET /api/traces", func(w http.ResponseWriter, r *http.Request) {
		limit, err := strconv.Atoi(r.URL.Query().Get("limit"))
		if err != nil || limit <= 0 || limit > 1000 {
			limit = 20
		}
		var data []jaegerTrace
		for _, id := range t.Recent(r.URL.Query().Get("service"), limit) {
			spans, _ := t.Trace(id)
			data = append(data, toJaeger(id, spans))
		}
		writeJSON(w, map[string]any{"data": data, "total": len(data)})
	})
	mux.HandleFunc("GET /api/traces/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		spans, _ := t.Trace(id)
		if len(spans) == 0 {
			w.WriteHeader(http.StatusNotFound)
			writeJSON(w, map[string]any{"data": nil, "errors": []map[string]any{{"code": 404, "msg": "trace not found"}}})
			return
		}
		writeJSON(w, map[string]any{"data": []jaegerTrace{toJaeger(strings.ToLower(id), spans)}})
	})
	mux.HandleFunc("GET /api/traces/{id}/logs", func(w http.ResponseWriter, r *http.Request) {
		_, logs := t.Trace(r.PathValue("id"))
		writeJSON(w, map[string]any{"data": logs})
	})
	mux.HandleFunc("GET /{$}", t.list)
	mux.HandleFunc("GET /trace/{id}", t.waterfall)
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// The Jaeger query API's JSON shape (what its UI and scripts read).
type jaegerTrace struct {
	TraceID   string                   `json:"traceID"`
	Spans     []jaegerSpan             `json:"spans"`
	Processes map[string]jaegerProcess `json:"processes"`
	Warnings  []string                 `json:"warnings"`
}

type jaegerSpan struct {
	TraceID       string      `json:"traceID"`
	SpanID        string      `json:"spanID"`
	OperationName string      `json:"operationName"`
	References    []jaegerRef `json:"references"`
	StartTime     int64       `json:"startTime"` // µs since the epoch
	Duration      int64       `json:"duration"`  // µs
	Tags          []jaegerTag `json:"tags"`
	Logs          []any       `json:"logs"`
	ProcessID     string      `json:"processID"`
	Warnings      []string    `json:"warnings"`
}

type jaegerRef struct {
	RefType string `json:"refType"`
	TraceID string `json:"traceID"`
	SpanID  string `json:"spanID"`
}

type jaegerTag struct {
	Key   string `json:"key"`
	Type  string `json:"type"`
	Value any    `json:"value"`
}

type jaegerProcess struct {
	ServiceName string      `json:"serviceName"`
	Tags        []jaegerTag `json:"tags"`
}

func toJaeger(id string, spans []Span) jaegerTrace {
	out := jaegerTrace{TraceID: id, Processes: map[string]jaegerProcess{}, Spans: []jaegerSpan{}}
	pids := map[string]string{}
	for _, s := range spans {
		key := s.Service + "/" + s.Process
		pid, ok := pids[key]
		if !ok {
			pid = "p" + strconv.Itoa(len(pids)+1)
			pids[key] = pid
			p := jaegerProcess{ServiceName: s.Service, Tags: []jaegerTag{}}
			if s.Process != "" {
				p.Tags = append(p.Tags, jaegerTag{Key: "process", Type: "string", Value: s.Process})
			}
			out.Processes[pid] = p
		}
		js := jaegerSpan{TraceID: s.TraceID, SpanID: s.SpanID, OperationName: s.Name, StartTime: s.Start.UnixMicro(),
			Duration: s.End.Sub(s.Start).Microseconds(), ProcessID: pid, Logs: []any{}, References: []jaegerRef{}}
		if s.ParentID != "" {
			js.References = append(js.References, jaegerRef{RefType: "CHILD_OF", TraceID: s.TraceID, SpanID: s.ParentID})
		}
		for _, l := range s.Links {
			tid, sid, _ := strings.Cut(l, "/")
			js.References = append(js.References, jaegerRef{RefType: "FOLLOWS_FROM", TraceID: tid, SpanID: sid})
		}
		keys := make([]string, 0, len(s.Attributes))
		for k := range s.Attributes {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			js.Tags = append(js.Tags, tag(k, s.Attributes[k]))
		}
		js.Tags = append(js.Tags, jaegerTag{Key: "span.kind", Type: "string", Value: s.Kind})
		if s.Status != "" {
			js.Tags = append(js.Tags, jaegerTag{Key: "otel.status", Type: "string", Value: s.Status})
		}
		out.Spans = append(out.Spans, js)
	}
	return out
}

func tag(k string, v any) jaegerTag {
	switch v.(type) {
	case bool:
		return jaegerTag{Key: k, Type: "bool", Value: v}
	case int64:
		return jaegerTag{Key: k, Type: "int64", Value: v}
	case float64:
		return jaegerTag{Key: k, Type: "float64", Value: v}
	}
	return jaegerTag{Key: k, Type: "string", Value: fmt.Sprint(v)}
}
