package web_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/launchkit/launchkit/internal/telemetry"
	"github.com/launchkit/launchkit/internal/web"
)

const (
	forgedTrace  = "4bf92f3577b34da6a3ce929d0e0e4736"
	forgedParent = "00-" + forgedTrace + "-00f067aa0ba902b7-01"
)

// carriedRoute answers /carried with nothing, keeping the headers a task
// queued by the request would carry (telemetry.Inject).
func carriedRoute(carried *map[string]string) web.Option {
	return web.WithExtraRoutes(func(r chi.Router) {
		r.Get("/carried", func(w http.ResponseWriter, r *http.Request) {
			*carried = telemetry.Inject(r.Context())
			w.WriteHeader(http.StatusNoContent)
		})
	})
}

func tracedRequest(peer, path string, headers ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	r.RemoteAddr = peer
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	return r
}

// requestSpan is the latest exported span named name; there must be n
// of them so far.
func requestSpan(t *testing.T, spans func() tracetest.SpanStubs, name string, n int) tracetest.SpanStub {
	t.Helper()
	var found []tracetest.SpanStub
	for _, span := range spans() {
		if span.Name == name {
			found = append(found, span)
		}
	}
	if len(found) != n {
		t.Fatalf("%d spans named %q, want %d", len(found), name, n)
	}
	return found[n-1]
}

// TestAClientsTraceIsOnlyALinkUnlessItComesFromAProxy: a traceparent,
// tracestate and baggage sent by a visitor neither choose the request's
// trace (the visitor's is a link) nor travel on with the work it queues;
// from a peer in TRUSTED_PROXIES the trace, its state and its baggage
// are continued.
func TestAClientsTraceIsOnlyALinkUnlessItComesFromAProxy(t *testing.T) {
	var carried map[string]string
	s, exp := newTracedSite(t, map[string]string{"TRUSTED_PROXIES": "192.0.2.1/32", "TRUSTED_PROXY_HEADER": "X-Forwarded-For"}, carriedRoute(&carried))
	headers := []string{"traceparent", forgedParent, "tracestate", "vendor=forged", "baggage", "user.id=1,role=admin"}

	s.do(tracedRequest("203.0.113.9:4000", "/carried", headers...)).status(http.StatusNoContent)
	span := requestSpan(t, exp, "GET /carried", 1)
	if span.SpanContext.TraceID().String() == forgedTrace || span.Parent.IsValid() {
		t.Errorf("a visitor's traceparent became the request's trace (parent %v)", span.Parent)
	}
	if len(span.Links) != 1 || span.Links[0].SpanContext.TraceID().String() != forgedTrace {
		t.Errorf("links %v, want the visitor's trace", span.Links)
	}
	if carried["baggage"] != "" || carried["tracestate"] != "" || !strings.Contains(carried["traceparent"], span.SpanContext.TraceID().String()) {
		t.Errorf("a task queued for a visitor carries %v", carried)
	}

	s.do(tracedRequest("192.0.2.1:4000", "/carried", headers...)).status(http.StatusNoContent)
	span = requestSpan(t, exp, "GET /carried", 2)
	if span.SpanContext.TraceID().String() != forgedTrace {
		t.Errorf("a proxy's trace was not continued: %s", span.SpanContext.TraceID())
	}
	if carried["baggage"] == "" || carried["tracestate"] != "vendor=forged" {
		t.Errorf("a task queued behind a proxy carries %v, want its tracestate and baggage", carried)
	}
}

// TestRequestSpansDoNotRecordTokensInPaths: the links mailed to users
// carry their token in the path; the request's span names the route
// instead, so the collector never sees the token, whatever the answer.
func TestRequestSpansDoNotRecordTokensInPaths(t *testing.T) {
	s, exp := newTracedSite(t, nil)
	const token = "tok3nSecretValue0123456789abcdefghij"
	for _, path := range []string{"/user/reset-password/" + token, "/user/confirm-email/" + token, "/no/such/" + token} {
		s.get(path + "?code=" + token)
	}
	spans := exp()
	if len(spans) == 0 {
		t.Fatal("no spans")
	}
	for _, span := range spans {
		if strings.Contains(span.Name, token) {
			t.Errorf("span name %q", span.Name)
		}
		for _, kv := range span.Attributes {
			if strings.Contains(kv.Value.String(), token) {
				t.Errorf("span %q: %s = %q", span.Name, kv.Key, kv.Value.String())
			}
		}
	}
}

// TestHugeOrMalformedTraceHeadersAreHarmless: trace headers that are
// malformed or as large as a request's headers may be neither fail the
// request nor make its span large (each span waits in the exporter's
// queue, 2048 of them); a visitor's X-Forwarded-For does not become the
// span's client.address.
func TestHugeOrMalformedTraceHeadersAreHarmless(t *testing.T) {
	s, exp := newTracedSite(t, nil)
	big := strings.Repeat("a", 15<<10)
	cases := [][]string{
		{"traceparent", "00-" + strings.Repeat("f", 32) + "-" + strings.Repeat("0", 16) + "-01"},
		{"traceparent", "zz-not-a-trace", "tracestate", "=,=,,,===", "baggage", "%zz;;=,=\x7f"},
		{"traceparent", forgedParent + big, "tracestate", "k=" + big, "baggage", "k=" + big},
		{"User-Agent", big + big + big, "X-Forwarded-For", "198.51.100.66, " + big},
	}
	for _, h := range cases {
		if got := s.do(tracedRequest("203.0.113.9:4000", "/", h...)).rec.Code; got != http.StatusOK {
			t.Errorf("headers %.60q: status %d", h, got)
		}
	}
	spans := exp()
	if len(spans) != len(cases) {
		t.Fatalf("%d spans, want %d", len(spans), len(cases))
	}
	for _, span := range spans {
		for _, kv := range span.Attributes {
			if v := kv.Value.String(); len(v) > 1024 {
				t.Errorf("span attribute %s has %d bytes", kv.Key, len(v))
			}
			if kv.Key == "client.address" && kv.Value.String() != "203.0.113.9" {
				t.Errorf("client.address = %.40q, want the peer", kv.Value.String())
			}
		}
	}
}

// TestMadeUpMethodsMakeOneLabelAndOneSpanName: a client choosing the
// method of each request ("FOO1", "FOO2"…) adds no metric series and no
// span name per method: unknown methods are all "_OTHER".
func TestMadeUpMethodsMakeOneLabelAndOneSpanName(t *testing.T) {
	s, exp := newTracedSite(t, nil)
	for i := range 20 {
		s.do(tracedRequest("203.0.113.9:4000", "/", "X-Test", "x")).status(http.StatusOK)
		r := tracedRequest("203.0.113.9:4000", "/")
		r.Method = fmt.Sprintf("FOO%d", i)
		s.do(r)
	}
	methods := map[string]bool{}
	for _, m := range regexp.MustCompile(`launchkit_http_requests_total\{method="([^"]*)"`).FindAllStringSubmatch(s.get("/metrics").body, -1) {
		methods[m[1]] = true
	}
	if len(methods) != 2 || !methods["GET"] || !methods["_OTHER"] {
		t.Errorf("method labels %v, want GET and _OTHER", methods)
	}
	names := map[string]bool{}
	for _, span := range exp() {
		names[strings.Fields(span.Name)[0]] = true
	}
	if len(names) != 2 || !names["GET"] || !names["_OTHER"] {
		t.Errorf("span names begin with %v, want GET and _OTHER", names)
	}
}

// TestRequestLogLinesDoNotQuoteTokens: the request's log line names the
// path with the token of a mailed link replaced, and the rest of it kept.
func TestRequestLogLinesDoNotQuoteTokens(t *testing.T) {
	s := newSite(t, nil)
	const token = "tok3nSecretValue0123456789abcdefghij"
	s.get("/user/reset-password/" + token)
	s.get("/user/confirm-email/" + token)
	logs := s.logs.String()
	if strings.Contains(logs, token) {
		t.Errorf("a token is logged:\n%s", logs)
	}
	if !strings.Contains(logs, "path=/user/reset-password/[redacted]") || !strings.Contains(logs, "path=/user/confirm-email/[redacted]") {
		t.Errorf("the paths are not logged:\n%s", logs)
	}
}
