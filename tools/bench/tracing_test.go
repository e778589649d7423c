package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// TestReceiverCountsWhatTheExporterSends: the bench's receiver decodes
// what the real OTLP/HTTP exporter sends, plain and gzip-compressed, and
// counts every span and byte of it.
func TestReceiverCountsWhatTheExporterSends(t *testing.T) {
	recv, err := startReceiver()
	if err != nil {
		t.Fatal(err)
	}
	defer recv.close()
	send := func(n int, opts ...otlptracehttp.Option) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		exp, err := otlptracehttp.New(ctx, append(opts, otlptracehttp.WithEndpointURL(recv.url+"/v1/traces"))...)
		if err != nil {
			t.Fatal(err)
		}
		tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp))
		for i := range n {
			_, span := tp.Tracer("bench").Start(ctx, "span "+strings.Repeat("x", i))
			span.End()
		}
		if err := tp.Shutdown(ctx); err != nil {
			t.Fatalf("export: %v", err)
		}
	}
	send(3)
	first := recv.snapshot()
	if first.spans != 3 || first.requests != 1 || first.bytes == 0 || first.undecoded != 0 {
		t.Fatalf("after 3 spans in one export the receiver counted %+v", first)
	}
	send(5, otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
	got := recv.snapshot()
	if got.spans != 8 || got.requests != 2 || got.bytes <= first.bytes || got.undecoded != 0 {
		t.Errorf("after 5 more spans, gzip-compressed, the receiver counted %+v", got)
	}
}

// TestCountSpansRejectsWhatIsNotAnExport: a body that is not an OTLP
// trace export is counted as undecoded, not as spans.
func TestCountSpansRejectsWhatIsNotAnExport(t *testing.T) {
	if n, ok := countSpans([]byte("\xff\xff\xff not protobuf"), ""); ok || n != 0 {
		t.Errorf("countSpans(garbage) = %d, %v; want 0, false", n, ok)
	}
	if n, ok := countSpans([]byte("plain"), "gzip"); ok || n != 0 {
		t.Errorf("countSpans(not gzip, said gzip) = %d, %v; want 0, false", n, ok)
	}
}

// TestTracingSection: the report's tracing section pairs the rounds and
// says what the receiver got per page.
func TestTracingSection(t *testing.T) {
	run := func(rate float64) loadResult {
		h := newHistogram()
		h.record(5 * time.Millisecond)
		return loadResult{requests: int64(rate * 10), elapsed: 10 * time.Second, latencies: h}
	}
	r := newReport(defaultOptions())
	r.tracing = &tracingResult{
		off: []loadResult{run(1000), run(800)}, on: []loadResult{run(900), run(760)},
		offKiB: 100 << 10, onKiB: 110 << 10, served: 1000,
		received: receiverCounts{requests: 4, bytes: 500_000, spans: 3000},
	}
	md := r.tracingMarkdown()
	for _, want := range []string{
		"## Tracing", "| tracing off (the default) | 900 | 800–1000 |",
		"| 0.93 (rounds 0.90–0.95) |", "3000 spans in 4 exports", "3.0 spans and 500 bytes per page served",
		"110.0 MiB",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the section has no %q:\n%s", want, md)
		}
	}
}
