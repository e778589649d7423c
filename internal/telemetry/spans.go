package telemetry

import (
	"context"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// current is the tracer of Launchkit's own spans (Start), set by Setup
// when tracing is on: a package variable rather than otel's global
// provider, so that nothing of Launchkit's records a span while tracing
// is off, whatever else the process installs.
var current atomic.Pointer[Telemetry]

// On reports whether this process traces (Setup turned it on).
func On() bool { return current.Load().Enabled() }

// Start starts one of Launchkit's own spans (an enqueue, a task, a mail,
// a directory call) as a child of ctx's. With tracing off it returns ctx
// and a span that records nothing, at the cost of a function call.
func Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	t := current.Load()
	if !t.Enabled() {
		return ctx, trace.SpanFromContext(ctx)
	}
	return t.provider.Tracer(ScopeName).Start(ctx, name, opts...)
}

// End ends span, marking it failed with err when err is not nil.
func End(span trace.Span, err error) {
	if err != nil && span.IsRecording() {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// StartEnqueue starts the producer span of queueing a task of taskType;
// the task should carry Inject of the context it returns, so that the
// worker's span is its child.
//
// Queued outside any trace (the scheduler, a relay sending a row written
// outside one), there is no span and the task carries nothing: its run
// starts a trace of its own, rather than inheriting the "not sampled" of
// an enqueue span that the sampler dropped for having no parent.
func StartEnqueue(ctx context.Context, taskType string) (context.Context, trace.Span) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ctx, trace.SpanFromContext(ctx)
	}
	return Start(ctx, "enqueue "+taskType,
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			attribute.String("messaging.system", "asynq"),
			attribute.String("messaging.operation.type", "send"),
			attribute.String("messaging.destination.name", taskType),
		))
}

// StartTask starts the consumer span of running a task of taskType whose
// headers carry the trace that queued it (nil: a new trace).
func StartTask(ctx context.Context, taskType, taskID string, headers map[string]string) (context.Context, trace.Span) {
	if !On() {
		return ctx, trace.SpanFromContext(ctx)
	}
	ctx = Extract(ctx, headers)
	return Start(ctx, "task "+taskType,
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			attribute.String("messaging.system", "asynq"),
			attribute.String("messaging.operation.type", "process"),
			attribute.String("messaging.destination.name", taskType),
			attribute.String("messaging.message.id", taskID),
		))
}
