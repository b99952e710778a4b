package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	collectorv1 "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonv1 "go.opentelemetry.io/proto/otlp/common/v1"
	resourcev1 "go.opentelemetry.io/proto/otlp/resource/v1"
	tracev1 "go.opentelemetry.io/proto/otlp/trace/v1"
)

func exportOne(t *testing.T, tr *Traces, process, service string, traceID, spanID, parentID byte, name string) {
	t.Helper()
	id := func(b byte, n int) []byte {
		out := make([]byte, n)
		out[n-1] = b
		return out
	}
	s := &tracev1.Span{TraceId: id(traceID, 16), SpanId: id(spanID, 8), Name: name, Kind: tracev1.Span_SPAN_KIND_SERVER,
		StartTimeUnixNano: 1_000_000_000, EndTimeUnixNano: 1_002_000_000,
		Attributes: []*commonv1.KeyValue{{Key: "http.route", Value: &commonv1.AnyValue{Value: &commonv1.AnyValue_StringValue{StringValue: "/patients"}}}}}
	if parentID != 0 {
		s.ParentSpanId = id(parentID, 8)
	}
	_, err := receiver{t: tr, process: process}.Export(context.Background(), &collectorv1.ExportTraceServiceRequest{
		ResourceSpans: []*tracev1.ResourceSpans{{
			Resource:   &resourcev1.Resource{Attributes: []*commonv1.KeyValue{{Key: "service.name", Value: &commonv1.AnyValue{Value: &commonv1.AnyValue_StringValue{StringValue: service}}}}},
			ScopeSpans: []*tracev1.ScopeSpans{{Spans: []*tracev1.Span{s}}},
		}},
	})
	require.NoError(t, err)
}

// Spans from an app and a sidecar land in one trace, served in Jaeger's
// shape (processes tagged app or daprd, CHILD_OF references), with the
// log lines that carry the trace's id, in the list and the waterfall.
func TestTracesServesJaegersShape(t *testing.T) {
	tr := newTraces()
	exportOne(t, tr, "app", "api-gateway", 1, 1, 0, "POST /patients")
	exportOne(t, tr, "daprd", "api-gateway", 1, 2, 1, "CallLocal/patient-service/patients")
	exportOne(t, tr, "app", "patient-service", 2, 3, 0, "GET /patients/{id}")
	tr.noteLog("api-gateway", `{"msg":"http request","trace_id":"00000000000000000000000000000001","span_id":"0000000000000001"}`)
	tr.noteLog("api-gateway", `{"msg":"no trace here"}`)
	h := tr.Handler()

	get := func(path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		return w
	}
	var services struct{ Data []string }
	require.NoError(t, json.Unmarshal(get("/api/services").Body.Bytes(), &services))
	assert.Equal(t, []string{"api-gateway", "patient-service"}, services.Data)

	var one struct{ Data []jaegerTrace }
	require.NoError(t, json.Unmarshal(get("/api/traces/00000000000000000000000000000001").Body.Bytes(), &one))
	require.Len(t, one.Data, 1)
	require.Len(t, one.Data[0].Spans, 2)
	child := one.Data[0].Spans[1]
	assert.Equal(t, "CallLocal/patient-service/patients", child.OperationName)
	require.Len(t, child.References, 1)
	assert.Equal(t, "CHILD_OF", child.References[0].RefType)
	assert.Equal(t, "0000000000000001", child.References[0].SpanID)
	assert.Equal(t, "daprd", one.Data[0].Processes[child.ProcessID].Tags[0].Value)
	assert.Equal(t, int64(2000), child.Duration, "microseconds")

	var bySvc struct{ Data []jaegerTrace }
	require.NoError(t, json.Unmarshal(get("/api/traces?service=patient-service").Body.Bytes(), &bySvc))
	require.Len(t, bySvc.Data, 1)
	assert.Equal(t, "00000000000000000000000000000002", bySvc.Data[0].TraceID)
	assert.Equal(t, http.StatusNotFound, get("/api/traces/00000000000000000000000000000009").Code)

	list := get("/").Body.String()
	assert.Contains(t, list, "/trace/00000000000000000000000000000001")
	page := get("/trace/00000000000000000000000000000001").Body.String()
	assert.Contains(t, page, "CallLocal/patient-service/patients")
	assert.Contains(t, page, "(sidecar)")
	assert.Contains(t, page, "http request", "the log line that carries the id")
	assert.NotContains(t, page, "no trace here")
}

// Only the most recent traces are kept.
func TestTracesAreBounded(t *testing.T) {
	tr := newTraces()
	for i := range maxTraces + 10 {
		tr.add(Span{TraceID: fmt.Sprintf("%032x", i), SpanID: "1", Service: "x"})
	}
	assert.Len(t, tr.traces, maxTraces)
	assert.Len(t, tr.order, maxTraces)
	spans, _ := tr.Trace(fmt.Sprintf("%032x", 0))
	assert.Empty(t, spans, "the oldest went first")
}
