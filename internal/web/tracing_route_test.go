package web_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// spanNamed is the only span called name among spans.
func spanNamed(t *testing.T, spans tracetest.SpanStubs, name string) tracetest.SpanStub {
	t.Helper()
	var found []tracetest.SpanStub
	for _, s := range spans {
		if s.Name == name {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		var names []string
		for _, s := range spans {
			names = append(names, s.Name)
		}
		t.Fatalf("%d spans named %q among %q", len(found), name, names)
	}
	return found[0]
}

const clientTrace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// TestRequestSpansAreNamedByRoute: a request's span is named by its route
// pattern, never its path; an unknown path is "unmatched"; the probes
// and /metrics make no span; and a traceparent is continued only from a
// trusted proxy — from anyone else it is a link, and the request starts
// a trace of this site's own.
func TestRequestSpansAreNamedByRoute(t *testing.T) {
	// Not parallel: tracing is the process's (newTracedSite).
	s, spans := newTracedSite(t, map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8", "TRUSTED_PROXY_HEADER": "X-Forwarded-For"})
	s.visitor().register("ada@example.com", "correct horse battery").redirectsTo("/")
	s.get("/user/reset-password/not-a-real-token-0123456789")
	s.get("/no/such/page/42").status(http.StatusNotFound)
	s.get("/healthz").status(http.StatusOK)
	s.get("/readyz")
	s.get("/metrics")

	visitor := httptest.NewRequest(http.MethodGet, "/user/sign-in", nil)
	visitor.Header.Set("traceparent", clientTrace)
	s.do(visitor)
	proxied := httptest.NewRequest(http.MethodGet, "/", nil)
	proxied.RemoteAddr = "10.1.2.3:5555"
	proxied.Header.Set("traceparent", clientTrace)
	s.do(proxied)

	all := spans()
	reset := spanNamed(t, all, "GET /user/reset-password/{token}")
	if reset.SpanKind != trace.SpanKindServer {
		t.Errorf("kind %v", reset.SpanKind)
	}
	var route string
	for _, a := range reset.Attributes {
		if a.Key == "http.route" {
			route = a.Value.AsString()
		}
	}
	if route != "/user/reset-password/{token}" {
		t.Errorf("http.route = %q", route)
	}
	for _, a := range reset.Attributes {
		if v := a.Value.String(); strings.Contains(v, "not-a-real-token") {
			t.Errorf("attribute %s = %q: a token in a path reached the span", a.Key, v)
		}
	}
	spanNamed(t, all, "GET unmatched")
	spanNamed(t, all, "POST /user/register")
	for _, sp := range all {
		switch sp.Name {
		case "GET /healthz", "GET /readyz", "GET /metrics", "GET":
			t.Errorf("span %q: probes and /metrics are not traced, and every span is named by its route", sp.Name)
		}
	}

	fromVisitor := spanNamed(t, all, "GET /user/sign-in")
	if fromVisitor.SpanContext.TraceID().String() == "4bf92f3577b34da6a3ce929d0e0e4736" || fromVisitor.Parent.IsValid() {
		t.Error("a visitor's traceparent was continued")
	}
	if len(fromVisitor.Links) != 1 || fromVisitor.Links[0].SpanContext.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("a visitor's traceparent should be a link: %+v", fromVisitor.Links)
	}
	fromProxy := spanNamed(t, all, "GET /")
	if fromProxy.SpanContext.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || fromProxy.Parent.SpanID().String() != "00f067aa0ba902b7" {
		t.Errorf("a trusted proxy's trace was not continued: parent %v", fromProxy.Parent)
	}
}
