// Package telemetry turns on OpenTelemetry tracing from the standard
// OTEL_* environment variables, so that one request can be followed
// through its SQL, its Redis commands, the tasks it queued and the
// worker that ran them, in any collector (Jaeger, Tempo, Honeycomb…).
//
// Tracing is off unless OTEL_EXPORTER_OTLP_ENDPOINT (or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set. Off means off: no
// provider, no exporter goroutine, and the instrumentation is not
// installed at all (callers ask Enabled), so a request costs what it did
// before tracing existed.
//
// On, spans go by OTLP over HTTP (protobuf) in batches; the exporter
// reads its own settings (OTEL_EXPORTER_OTLP_HEADERS, _TIMEOUT,
// _COMPRESSION…) from the environment. OTEL_TRACES_SAMPLER and its
// argument choose the sampler as the specification says, with one
// addition: a span with no request or task above it (a worker's polling
// of Redis, a timer's query) starts no trace of its own.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName names the tracer of Launchkit's own spans.
const ScopeName = "github.com/launchkit/launchkit"

// Options configure Setup.
type Options struct {
	// Service is the default service.name ("launchkit-web"); the
	// standard OTEL_SERVICE_NAME, or service.name in
	// OTEL_RESOURCE_ATTRIBUTES, wins over it.
	Service string
	// Getenv reads the environment; nil is os.Getenv. (The exporter
	// reads its own variables from the process environment.)
	Getenv func(string) string
	// Exporter, when set, replaces the OTLP exporter (tests).
	Exporter sdktrace.SpanExporter
	// Logger receives the SDK's errors (a failed export), with the
	// endpoint's credentials and the OTEL_EXPORTER_OTLP_HEADERS values
	// taken out; nil is slog.Default().
	Logger *slog.Logger
}

// Telemetry is the process's tracing: a provider when on, nothing when
// off. A nil *Telemetry is off.
type Telemetry struct {
	provider *sdktrace.TracerProvider
	endpoint string
}

// Enabled reports whether spans are recorded and exported. Wiring asks
// it before installing any instrumentation.
func (t *Telemetry) Enabled() bool { return t != nil && t.provider != nil }

// Endpoint is where spans go (for the start-up log line), without its
// user information, query or fragment (where a collector's key may be);
// "" when off.
func (t *Telemetry) Endpoint() string {
	if t == nil {
		return ""
	}
	return t.endpoint
}

// Tracer returns the tracer of Launchkit's own spans: the provider's when
// on, a no-op one when off.
func (t *Telemetry) Tracer() trace.Tracer {
	if !t.Enabled() {
		return noopTracer
	}
	return t.provider.Tracer(ScopeName)
}

// TracerProvider is the provider instrumentation takes, a no-op one when
// off.
func (t *Telemetry) TracerProvider() trace.TracerProvider {
	if !t.Enabled() {
		return noopProvider
	}
	return t.provider
}

// Shutdown exports the spans still buffered, within ctx, and stops the
// exporter. It is safe on an off or nil Telemetry.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	if !t.Enabled() {
		return nil
	}
	current.CompareAndSwap(t, nil)
	return t.provider.Shutdown(ctx)
}

// ErrConfig marks a tracing setting that cannot be used; the process
// refuses to start rather than run without the traces it was asked for.
var ErrConfig = errors.New("tracing configuration")

// Setup reads the OTEL_* variables and, when an endpoint is set, starts
// the provider, makes it and the W3C trace-context propagator the
// process's (otel.SetTracerProvider), and returns it. Without an endpoint
// it returns an off Telemetry and changes nothing global.
func Setup(ctx context.Context, opts Options) (*Telemetry, error) {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	endpoint := firstSet(getenv, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
	if opts.Exporter == nil && endpoint == "" {
		return &Telemetry{}, nil
	}
	if v := strings.ToLower(strings.TrimSpace(getenv("OTEL_SDK_DISABLED"))); v == "true" {
		return &Telemetry{}, nil
	}
	if v := strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER"))); v == "none" {
		return &Telemetry{}, nil
	} else if v != "" && v != "otlp" {
		return nil, fmt.Errorf("%w: OTEL_TRACES_EXPORTER=%q: only otlp (or none) is supported", ErrConfig, v)
	}
	if p := strings.ToLower(firstSet(getenv, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")); p != "" && p != "http/protobuf" {
		return nil, fmt.Errorf("%w: OTEL_EXPORTER_OTLP_PROTOCOL=%q: this build exports OTLP over HTTP only (http/protobuf); point it at the collector's HTTP port (4318)", ErrConfig, p)
	}
	sampler, err := samplerFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	exporter := opts.Exporter
	if exporter == nil {
		if exporter, err = otlptracehttp.New(ctx); err != nil {
			return nil, fmt.Errorf("%w: OTLP exporter: %v", ErrConfig, err)
		}
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName(opts.Service)),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
		resource.WithTelemetrySDK(),
		resource.WithHost(),
		resource.WithProcessPID(),
		resource.WithProcessExecutableName(),
		resource.WithProcessRuntimeVersion(),
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("%w: OTEL_RESOURCE_ATTRIBUTES: %v", ErrConfig, err)
	}
	if v := Release(); v != "" {
		if merged, err := resource.Merge(resource.NewSchemaless(semconv.ServiceVersion(v)), res); err == nil {
			res = merged
		}
	}
	provider := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exporter),
		sdktrace.WithRawSpanLimits(spanLimits(getenv)),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sampler),
	)
	otel.SetTracerProvider(provider)
	otel.SetTextMapPropagator(Propagator)
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	otel.SetErrorHandler(sdkErrors{logger: logger, secrets: exporterSecrets(getenv, endpoint)})
	if endpoint == "" {
		endpoint = "(test exporter)"
	}
	t := &Telemetry{provider: provider, endpoint: redactEndpoint(endpoint)}
	current.Store(t)
	return t, nil
}

// Propagator carries a trace from one process to the next: the W3C
// traceparent and tracestate, and baggage.
var Propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

func firstSet(getenv func(string) string, keys ...string) string {
	for _, k := range keys {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
	}
	return ""
}

// maxAttributeValue is the length a span's attribute values are cut to
// unless OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT (or
// OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT) says otherwise. The SDK's default is
// no limit, and a visitor chooses some of them (user_agent.original,
// server.address): up to a request's 64 KB of headers in each of the
// 2048 spans the exporter queues.
const maxAttributeValue = 1024

// spanLimits are the SDK's limits from the OTEL_SPAN_* variables, with
// attribute values bounded by maxAttributeValue unless a variable sets
// a positive limit (-1, no limit, is refused).
func spanLimits(getenv func(string) string) sdktrace.SpanLimits {
	limits := sdktrace.NewSpanLimits()
	limits.AttributeValueLengthLimit = maxAttributeValue
	v := firstSet(getenv, "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT")
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		limits.AttributeValueLengthLimit = n
	}
	return limits
}

// samplerFromEnv is the sampler OTEL_TRACES_SAMPLER names (the
// specification's six; parentbased_always_on when unset), wrapped so that
// only a request or a task (a server or consumer span) may start a trace.
func samplerFromEnv(getenv func(string) string) (sdktrace.Sampler, error) {
	name := strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_SAMPLER")))
	arg := strings.TrimSpace(getenv("OTEL_TRACES_SAMPLER_ARG"))
	ratio := func() (float64, error) {
		if arg == "" {
			return 1, nil
		}
		v, err := strconv.ParseFloat(arg, 64)
		if err != nil || v < 0 || v > 1 {
			return 0, fmt.Errorf("%w: OTEL_TRACES_SAMPLER_ARG=%q: want a ratio between 0 and 1", ErrConfig, arg)
		}
		return v, nil
	}
	var root sdktrace.Sampler
	switch name {
	case "", "parentbased_always_on", "always_on":
		root = sdktrace.AlwaysSample()
	case "always_off", "parentbased_always_off":
		root = sdktrace.NeverSample()
	case "traceidratio", "parentbased_traceidratio":
		r, err := ratio()
		if err != nil {
			return nil, err
		}
		root = sdktrace.TraceIDRatioBased(r)
	default:
		return nil, fmt.Errorf("%w: OTEL_TRACES_SAMPLER=%q: want always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio", ErrConfig, name)
	}
	entry := entrySampler{root}
	if strings.HasPrefix(name, "parentbased_") || name == "" {
		return sdktrace.ParentBased(entry), nil
	}
	// always_on, always_off and traceidratio ignore the parent's choice,
	// as the specification says; a span with no parent still needs to
	// be a request or a task to start a trace.
	return parentless{entry, root}, nil
}

// entrySampler lets only server and consumer spans (a request, a task)
// start a trace, deciding those with next; any other span without a
// parent is dropped.
type entrySampler struct{ next sdktrace.Sampler }

func (s entrySampler) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	if k := p.Kind; k != trace.SpanKindServer && k != trace.SpanKindConsumer {
		return sdktrace.SamplingResult{Decision: sdktrace.Drop, Tracestate: trace.SpanContextFromContext(p.ParentContext).TraceState()}
	}
	return s.next.ShouldSample(p)
}

func (s entrySampler) Description() string { return "EntrySpansOnly{" + s.next.Description() + "}" }

// parentless samples spans without a parent with root, and the others
// with next (the same sampler, ignoring the parent's decision).
type parentless struct {
	root sdktrace.Sampler
	next sdktrace.Sampler
}

func (s parentless) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	if !trace.SpanContextFromContext(p.ParentContext).IsValid() {
		return s.root.ShouldSample(p)
	}
	return s.next.ShouldSample(p)
}

func (s parentless) Description() string { return s.next.Description() }

// TraceID is the ID of the trace ctx's span belongs to when it is
// recorded (sampled), else "": what error pages, logs and exemplars show.
func TraceID(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() || !sc.IsSampled() {
		return ""
	}
	return sc.TraceID().String()
}

// shutdownTimeout bounds the export of the last spans at exit.
const shutdownTimeout = 5 * time.Second

// ShutdownOnExit is Shutdown with its own deadline, for a defer in main.
func (t *Telemetry) ShutdownOnExit() error {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	return t.Shutdown(ctx)
}

// redactEndpoint is endpoint without the parts that may hold a key: user
// information, query and fragment.
func redactEndpoint(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return "(unreadable endpoint)"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// exporterSecrets are the values an exporter's error may quote that must
// not be logged: the endpoint's user name, password and query values, and
// the values of OTEL_EXPORTER_OTLP_HEADERS (API keys), each as written
// and as URL-escaped.
func exporterSecrets(getenv func(string) string, endpoint string) []string {
	var secrets []string
	add := func(v string) {
		if len(v) >= 4 { // "true", "1": too common to hide, too short to matter
			secrets = append(secrets, v, url.QueryEscape(v), url.PathEscape(v))
		}
	}
	if u, err := url.Parse(endpoint); err == nil {
		if u.User != nil {
			add(u.User.Username())
			pw, _ := u.User.Password()
			add(pw)
		}
		for _, vs := range u.Query() {
			for _, v := range vs {
				add(v)
			}
		}
	}
	for _, key := range []string{"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"} {
		for _, pair := range strings.Split(getenv(key), ",") {
			if _, v, ok := strings.Cut(pair, "="); ok {
				add(strings.TrimSpace(v))
				if dec, err := url.QueryUnescape(strings.TrimSpace(v)); err == nil {
					add(dec)
				}
			}
		}
	}
	return secrets
}

// sdkErrors logs the errors OpenTelemetry reports (otel.Handle: a failed
// or dropped export, the first unreadable baggage header) as warnings
// through the app's logger, rather than otel's default of the standard
// logger, with the exporter's secrets replaced: the exporter quotes its
// URL, and the collector's answer.
type sdkErrors struct {
	logger  *slog.Logger
	secrets []string
}

func (h sdkErrors) Handle(err error) {
	msg := err.Error()
	for _, s := range h.secrets {
		msg = strings.ReplaceAll(msg, s, "[redacted]")
	}
	h.logger.Warn("tracing: OpenTelemetry reported an error", "error", msg)
}
