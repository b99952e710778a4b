package tracing

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// PGX is a pgx tracer: each query and each batch is a client span, a child
// of the request's. The span carries the SQL text (the stores' SQL is
// constant; values travel as parameters, never in it) and no argument.
type PGX struct{}

type pgxSpanKey struct{}

var (
	_ pgx.QueryTracer = PGX{}
	_ pgx.BatchTracer = PGX{}
)

// TraceQueryStart starts a query's span.
func (PGX) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	return startDB(ctx, operation(data.SQL), attribute.String("db.query.text", data.SQL))
}

// TraceQueryEnd ends it.
func (PGX) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	endDB(ctx, data.Err)
}

// TraceBatchStart starts a batch's span.
func (PGX) TraceBatchStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchStartData) context.Context {
	n := 0
	if data.Batch != nil {
		n = data.Batch.Len()
	}
	return startDB(ctx, "BATCH", attribute.Int("db.operation.batch.size", n))
}

// TraceBatchQuery records one statement of the batch.
func (PGX) TraceBatchQuery(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchQueryData) {
	span := trace.SpanFromContext(ctx)
	span.AddEvent("query", trace.WithAttributes(attribute.String("db.query.text", data.SQL)))
	if data.Err != nil {
		span.RecordError(data.Err)
	}
}

// TraceBatchEnd ends the batch's span.
func (PGX) TraceBatchEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchEndData) {
	endDB(ctx, data.Err)
}

func startDB(ctx context.Context, name string, attrs ...attribute.KeyValue) context.Context {
	if !trace.SpanFromContext(ctx).SpanContext().IsValid() {
		return ctx // no request to hang it on: a background query is not traced
	}
	attrs = append(attrs, attribute.String("db.system.name", "postgresql"))
	ctx, span := tracer().Start(ctx, "postgresql "+name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	return context.WithValue(ctx, pgxSpanKey{}, span)
}

func endDB(ctx context.Context, err error) {
	span, ok := ctx.Value(pgxSpanKey{}).(trace.Span)
	if !ok {
		return
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "query failed")
	}
	span.End()
}

// operation is a statement's first keyword (SELECT, INSERT, WITH…).
func operation(sql string) string {
	sql = strings.TrimSpace(sql)
	if i := strings.IndexAny(sql, " \n\t("); i > 0 {
		sql = sql[:i]
	}
	if len(sql) > 16 {
		sql = sql[:16]
	}
	return strings.ToUpper(sql)
}
