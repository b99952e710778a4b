package tracing

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// A span holding text OTLP cannot encode is dropped alone; the others of
// its batch are exported.
func TestSpansOTLPCannotEncodeAreDroppedAlone(t *testing.T) {
	inner := tracetest.NewInMemoryExporter()
	spans := []sdktrace.ReadOnlySpan{
		tracetest.SpanStub{Name: "POST /patients"}.Snapshot(),
		tracetest.SpanStub{Name: "GET /p", Attributes: []attribute.KeyValue{attribute.String("url.path", "/p\xff")}}.Snapshot(),
		tracetest.SpanStub{Name: "bad \xfe name"}.Snapshot(),
		tracetest.SpanStub{Name: "GET /q", Attributes: []attribute.KeyValue{attribute.StringSlice("h", []string{"ok", "\xc3"})}}.Snapshot(),
		tracetest.SpanStub{Name: "GET /patients", Attributes: []attribute.KeyValue{attribute.String("url.path", "/patients/José")}}.Snapshot(),
	}
	require.NoError(t, encodable{inner}.ExportSpans(context.Background(), spans))
	var names []string
	for _, s := range inner.GetSpans() {
		names = append(names, s.Name)
	}
	assert.Equal(t, []string{"POST /patients", "GET /patients"}, names)
}
