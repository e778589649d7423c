package web

import (
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/baggage"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/launchkit/launchkit/internal/telemetry"
)

// traced puts each request in a span when tracing is on (OTEL_*:
// internal/telemetry), and returns h unchanged when it is off. The span
// is named by the request's route pattern once the router has found it
// (nameSpan), so "GET /users/{id}" is one name, not one per user. The
// probes and /metrics, asked every few seconds, are not traced.
//
// A trace a client sends (traceparent) is continued only from a peer in
// TRUSTED_PROXIES, such as a load balancer that starts traces; from
// anyone else it is kept as a link, so a visitor can neither choose this
// site's trace IDs nor have every request of theirs sampled; the
// visitor's baggage is dropped, so that it travels on with none of the
// tasks the request queues (traceClient).
func (s *Server) traced(h http.Handler) http.Handler {
	if !s.telemetry.Enabled() {
		return h
	}
	return otelhttp.NewHandler(s.traceClient(h), "http.server",
		otelhttp.WithTracerProvider(s.telemetry.TracerProvider()),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()), // the metrics are Prometheus's
		otelhttp.WithPropagators(telemetry.Propagator),
		otelhttp.WithPublicEndpointFn(s.fromVisitor),
		otelhttp.WithFilter(func(r *http.Request) bool {
			switch r.URL.Path {
			case "/healthz", "/readyz", "/metrics":
				return false
			}
			return true
		}),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return knownMethod(r.Method) }),
		// otelhttp records the raw path as url.path, tokens of mailed
		// links and all; it is replaced from the start (the last value
		// of an attribute wins), and by the route once it is known.
		otelhttp.WithSpanOptions(trace.WithAttributes(semconv.URLPath(unmatched))),
	)
}

// fromVisitor reports whether r comes from anyone but a peer in
// TRUSTED_PROXIES, whose trace context is not to be trusted.
func (s *Server) fromVisitor(r *http.Request) bool {
	peer := parseAddr(r.RemoteAddr)
	return !peer.IsValid() || !s.trustedProxy(peer)
}

// traceClient drops the baggage a visitor sent (otelhttp puts it
// in the request's context whoever sent it): otherwise any key and value
// they chose, up to 8 KB, would ride in the headers of every task the
// request queues and in the context of the worker that runs it. It also
// sets the span's client.address to the client as TRUSTED_PROXIES
// finds it: otelhttp takes X-Forwarded-For from anyone, so a visitor
// could name any address.
func (s *Server) traceClient(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if span := trace.SpanFromContext(r.Context()); span.IsRecording() {
			if a := s.clientAddress(r); a.IsValid() {
				span.SetAttributes(semconv.ClientAddress(a.String()))
			}
		}
		if baggage.FromContext(r.Context()).Len() > 0 && s.fromVisitor(r) {
			r = r.WithContext(baggage.ContextWithoutBaggage(r.Context()))
		}
		next.ServeHTTP(w, r)
	})
}

// unmatched is the route of a request no route answered.
const unmatched = "unmatched"

// nameSpan names the request's span by its route pattern, once routing
// has found it ("unmatched" for a 404: raw paths would make a name per
// URL probed). The pattern is its url.path too: a path can carry a
// token (/user/reset-password/{token}), which must not reach the
// collector.
func nameSpan(r *http.Request, method, route string) {
	span := trace.SpanFromContext(r.Context())
	if !span.IsRecording() {
		return
	}
	span.SetName(method + " " + route)
	span.SetAttributes(semconv.HTTPRoute(route), semconv.URLPath(route))
}

// knownMethod is method when it is one of HTTP's, else "_OTHER" (as
// OpenTelemetry's conventions name it): a client may send any word as
// its method, and each would be a metric series and a span name.
func knownMethod(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "_OTHER"
}
