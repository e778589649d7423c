package telemetry_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/launchkit/launchkit/internal/telemetry"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestOffWithoutAnEndpointStartsNothingAndRecordsNothing(t *testing.T) {
	before := runtime.NumGoroutine()
	global := otel.GetTracerProvider()
	// Whatever else the process installs globally, Launchkit's own spans
	// stay unrecorded while tracing is off.
	recorder := tracetest.NewSpanRecorder()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(recorder)))
	defer otel.SetTracerProvider(global)

	tel, err := telemetry.Setup(context.Background(), telemetry.Options{Service: "x-web", Getenv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if tel.Enabled() || telemetry.On() {
		t.Fatal("tracing is on without an endpoint")
	}
	ctx, span := telemetry.Start(context.Background(), "anything")
	if span.IsRecording() || trace.SpanContextFromContext(ctx).IsValid() {
		t.Error("an off Start made a span")
	}
	_, span = telemetry.StartEnqueue(ctx, "mail:send")
	telemetry.End(span, errors.New("x"))
	if h := telemetry.Inject(ctx); h != nil {
		t.Errorf("off, a task carries headers: %v", h)
	}
	if n := len(recorder.Ended()) + len(recorder.Started()); n != 0 {
		t.Errorf("%d spans recorded with tracing off", n)
	}
	if after := runtime.NumGoroutine(); after > before {
		t.Errorf("goroutines %d → %d: off must start no exporter", before, after)
	}
	buf := make([]byte, 1<<20)
	if stacks := string(buf[:runtime.Stack(buf, true)]); strings.Contains(stacks, "sdk/trace.(*batchSpanProcessor)") || strings.Contains(stacks, "otlptrace") {
		t.Error("an exporter goroutine runs with tracing off")
	}
	if err := tel.Shutdown(context.Background()); err != nil {
		t.Error(err)
	}
}

func TestSettingsThatCannotWorkAreRefused(t *testing.T) {
	for _, vars := range []map[string]string{
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_TRACES_SAMPLER": "sometimes"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_TRACES_EXPORTER": "zipkin"},
	} {
		_, err := telemetry.Setup(context.Background(), telemetry.Options{Service: "x-web", Getenv: env(vars)})
		if !errors.Is(err, telemetry.ErrConfig) {
			t.Errorf("%v: got %v, want ErrConfig", vars, err)
		}
	}
	for _, vars := range []map[string]string{
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_SDK_DISABLED": "true"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_TRACES_EXPORTER": "none"},
	} {
		tel, err := telemetry.Setup(context.Background(), telemetry.Options{Service: "x-web", Getenv: env(vars)})
		if err != nil || tel.Enabled() {
			t.Errorf("%v: want off, got %v, %v", vars, tel.Enabled(), err)
		}
	}
}

// on starts tracing into an in-memory exporter for one test.
func on(t *testing.T, vars map[string]string) *tracetest.InMemoryExporter {
	t.Helper()
	global, prop := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	exp := tracetest.NewInMemoryExporter()
	tel, err := telemetry.Setup(context.Background(), telemetry.Options{Service: "x-web", Getenv: env(vars), Exporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = tel.Shutdown(context.Background())
		otel.SetTracerProvider(global)
		otel.SetTextMapPropagator(prop)
	})
	if !tel.Enabled() || !telemetry.On() {
		t.Fatal("tracing is off")
	}
	return exp
}

func TestOnlyARequestOrATaskStartsATrace(t *testing.T) {
	exp := on(t, nil)
	tracer := otel.GetTracerProvider().Tracer("test")
	// A Redis command of the worker's polling: no parent, client kind.
	_, poll := tracer.Start(context.Background(), "BRPOPLPUSH", trace.WithSpanKind(trace.SpanKindClient))
	poll.End()
	// A request, and a query inside it.
	ctx, req := tracer.Start(context.Background(), "GET /", trace.WithSpanKind(trace.SpanKindServer))
	_, q := tracer.Start(ctx, "SELECT", trace.WithSpanKind(trace.SpanKindClient))
	q.End()
	req.End()
	if err := otel.GetTracerProvider().(*sdktrace.TracerProvider).ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range exp.GetSpans() {
		names = append(names, s.Name)
	}
	if strings.Join(names, ",") != "SELECT,GET /" {
		t.Errorf("exported %v, want the query and the request only", names)
	}
}

func TestATaskContinuesTheTraceThatQueuedIt(t *testing.T) {
	exp := on(t, nil)
	tracer := otel.GetTracerProvider().Tracer("test")
	ctx, req := tracer.Start(context.Background(), "POST /user/register", trace.WithSpanKind(trace.SpanKindServer))
	ctx, enq := telemetry.StartEnqueue(ctx, "mail:send")
	headers := telemetry.Inject(ctx)
	enq.End()
	req.End()
	if !strings.HasPrefix(headers["traceparent"], "00-"+req.SpanContext().TraceID().String()+"-") {
		t.Fatalf("headers %v do not carry the request's trace", headers)
	}
	// Another process: only the headers cross.
	_, task := telemetry.StartTask(context.Background(), "mail:send", "t1", headers)
	task.End()
	// Queued outside any trace (the scheduler): the task carries nothing,
	// so that its run starts a trace rather than inheriting a dropped one.
	if h := telemetry.Inject(must(telemetry.StartEnqueue(context.Background(), "sessions:purge"))); h != nil {
		t.Errorf("a task queued outside any trace carries %v", h)
	}
	_, root := telemetry.StartTask(context.Background(), "sessions:purge", "t2", nil)
	root.End()
	_ = otel.GetTracerProvider().(*sdktrace.TracerProvider).ForceFlush(context.Background())
	spans := map[string]tracetest.SpanStub{}
	for _, s := range exp.GetSpans() {
		spans[s.Name] = s
	}
	got := spans["task mail:send"]
	if got.Parent.SpanID() != spans["enqueue mail:send"].SpanContext.SpanID() || got.SpanContext.TraceID() != req.SpanContext().TraceID() {
		t.Errorf("the task's span is not the enqueue's child in the request's trace")
	}
	if got.SpanKind != trace.SpanKindConsumer || spans["enqueue mail:send"].SpanKind != trace.SpanKindProducer {
		t.Error("wrong span kinds")
	}
	if s, ok := spans["task sessions:purge"]; !ok || s.Parent.IsValid() {
		t.Error("a task queued outside any trace starts its own")
	}
}

func TestSamplerFromTheEnvironment(t *testing.T) {
	exp := on(t, map[string]string{"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0"})
	tracer := otel.GetTracerProvider().Tracer("test")
	_, req := tracer.Start(context.Background(), "GET /", trace.WithSpanKind(trace.SpanKindServer))
	req.End()
	_ = otel.GetTracerProvider().(*sdktrace.TracerProvider).ForceFlush(context.Background())
	if n := len(exp.GetSpans()); n != 0 {
		t.Errorf("ratio 0 exported %d spans", n)
	}
}

func must(ctx context.Context, span trace.Span) context.Context {
	span.End()
	return ctx
}

// TestAttributeValuesAreBounded: an attribute value (a visitor's user
// agent) is cut to 1 KB unless OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT
// says otherwise.
func TestAttributeValuesAreBounded(t *testing.T) {
	for _, tc := range []struct {
		vars map[string]string
		want int
	}{
		{nil, 1024},
		{map[string]string{"OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT": "4000"}, 4000},
	} {
		exp := on(t, tc.vars)
		_, span := otel.GetTracerProvider().Tracer("test").Start(context.Background(), "GET /",
			trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attribute.String("user_agent.original", strings.Repeat("u", 60<<10))))
		span.End()
		if err := otel.GetTracerProvider().(*sdktrace.TracerProvider).ForceFlush(context.Background()); err != nil {
			t.Fatal(err)
		}
		spans := exp.GetSpans()
		if len(spans) != 1 || len(spans[0].Attributes) != 1 {
			t.Fatalf("%v: spans %v", tc.vars, spans)
		}
		if got := len(spans[0].Attributes[0].Value.AsString()); got != tc.want {
			t.Errorf("%v: a 60 KB value is kept as %d bytes, want %d", tc.vars, got, tc.want)
		}
	}
}
