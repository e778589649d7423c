package telemetry

import (
	"context"
	"runtime/debug"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

var (
	noopProvider = noop.NewTracerProvider()
	noopTracer   = noopProvider.Tracer(ScopeName)
)

// Inject returns the headers that carry ctx's trace to another process
// (traceparent, tracestate, baggage), or nil when ctx has no recorded
// span: with tracing off a task carries nothing.
func Inject(ctx context.Context) map[string]string {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return nil
	}
	carrier := propagation.MapCarrier{}
	Propagator.Inject(ctx, carrier)
	if len(carrier) == 0 {
		return nil
	}
	return carrier
}

// Extract returns ctx continuing the trace that headers carry (as Inject
// made them); headers without one leave ctx as it is.
func Extract(ctx context.Context, headers map[string]string) context.Context {
	if len(headers) == 0 {
		return ctx
	}
	return Propagator.Extract(ctx, propagation.MapCarrier(headers))
}

// Release names this build for traces and error reports: the VCS
// revision Go recorded at build time (12 characters, "-dirty" when the
// tree had changes), else the module version, else "".
func Release() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	var rev string
	dirty := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if dirty {
			rev += "-dirty"
		}
		return rev
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	return ""
}
