package tracing

import (
	"context"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// encodable drops, before export, the spans OTLP cannot encode: a span
// whose name or attributes hold text that is not valid UTF-8 (a hostile
// request's path or header, recorded as it came) fails the whole batch's
// export, and with it every other request's spans in that batch. The
// span of the request that sent such text is lost; the rest are not.
type encodable struct{ sdktrace.SpanExporter }

func (e encodable) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	kept := spans[:0:0]
	for _, s := range spans {
		if spanEncodable(s) {
			kept = append(kept, s)
		}
	}
	if len(kept) == 0 {
		return nil
	}
	return e.SpanExporter.ExportSpans(ctx, kept)
}

func spanEncodable(s sdktrace.ReadOnlySpan) bool {
	if !utf8.ValidString(s.Name()) || !utf8.ValidString(s.Status().Description) || !attrsEncodable(s.Attributes()) {
		return false
	}
	for _, ev := range s.Events() {
		if !utf8.ValidString(ev.Name) || !attrsEncodable(ev.Attributes) {
			return false
		}
	}
	for _, l := range s.Links() {
		if !attrsEncodable(l.Attributes) {
			return false
		}
	}
	return true
}

func attrsEncodable(kvs []attribute.KeyValue) bool {
	for _, kv := range kvs {
		if !utf8.ValidString(string(kv.Key)) {
			return false
		}
		switch kv.Value.Type() {
		case attribute.STRING:
			if !utf8.ValidString(kv.Value.AsString()) {
				return false
			}
		case attribute.STRINGSLICE:
			for _, v := range kv.Value.AsStringSlice() {
				if !utf8.ValidString(v) {
					return false
				}
			}
		}
	}
	return true
}
