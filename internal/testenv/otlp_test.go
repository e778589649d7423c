package testenv_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdkresource "go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/launchkit/launchkit/internal/testenv"
)

// TestOTLPReceiverDecodesWhatTheSDKExports sends two spans through the
// SDK's own OTLP/HTTP exporter, plain and gzipped, and finds them in the
// receiver as they were made: IDs, parent, kind, service, attributes and
// status.
func TestOTLPReceiverDecodesWhatTheSDKExports(t *testing.T) {
	for _, compression := range []otlptracehttp.Compression{otlptracehttp.NoCompression, otlptracehttp.GzipCompression} {
		t.Run(map[otlptracehttp.Compression]string{otlptracehttp.NoCompression: "plain", otlptracehttp.GzipCompression: "gzip"}[compression], func(t *testing.T) {
			r := testenv.StartOTLP(t)
			exporter, err := otlptracehttp.New(t.Context(),
				otlptracehttp.WithEndpointURL(r.Endpoint()+"/v1/traces"), otlptracehttp.WithCompression(compression))
			if err != nil {
				t.Fatal(err)
			}
			provider := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter),
				sdktrace.WithResource(sdkresource.NewSchemaless(attribute.String("service.name", "receiver-test"))))
			t.Cleanup(func() { _ = provider.Shutdown(context.Background()) })
			tracer := provider.Tracer("launchkit/testenv")

			ctx, parent := tracer.Start(t.Context(), "GET /things/{id}", trace.WithSpanKind(trace.SpanKindServer))
			_, child := tracer.Start(ctx, "SELECT things", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
				attribute.String("db.system.name", "postgresql"), attribute.Int("db.rows", 3),
				attribute.Bool("cached", false), attribute.StringSlice("tags", []string{"a", "b"})))
			child.SetStatus(codes.Error, "no such table")
			child.End()
			parent.End()

			spans := r.WaitFor(t, 5*time.Second, func(s []testenv.Span) bool { return len(s) == 2 })
			gotChild, gotParent := spans[0], spans[1] // exported as they ended
			traceID := parent.SpanContext().TraceID().String()
			if gotParent.TraceID != traceID || gotChild.TraceID != traceID {
				t.Errorf("trace IDs %s and %s, want %s", gotParent.TraceID, gotChild.TraceID, traceID)
			}
			if gotParent.SpanID != parent.SpanContext().SpanID().String() || gotParent.ParentSpanID != "" {
				t.Errorf("the root span: ID %s parent %q, want %s and none", gotParent.SpanID, gotParent.ParentSpanID, parent.SpanContext().SpanID())
			}
			if gotChild.ParentSpanID != gotParent.SpanID {
				t.Errorf("the child's parent is %s, want %s", gotChild.ParentSpanID, gotParent.SpanID)
			}
			if gotParent.Name != "GET /things/{id}" || gotParent.Kind != "server" || gotParent.Status != "unset" {
				t.Errorf("the root span: %+v", gotParent)
			}
			if gotChild.Name != "SELECT things" || gotChild.Kind != "client" || gotChild.Status != "error" || gotChild.StatusMessage != "no such table" {
				t.Errorf("the child span: %+v", gotChild)
			}
			for _, s := range spans {
				if s.Service != "receiver-test" || s.Scope != "launchkit/testenv" {
					t.Errorf("span %q: service %q scope %q, want receiver-test and launchkit/testenv", s.Name, s.Service, s.Scope)
				}
				if !s.End.After(s.Start) || time.Since(s.Start) > time.Minute {
					t.Errorf("span %q: start %s end %s", s.Name, s.Start, s.End)
				}
			}
			want := map[string]string{"db.system.name": "postgresql", "db.rows": "3", "cached": "false", "tags": "[a b]"}
			for k, v := range want {
				if gotChild.Attributes[k] != v {
					t.Errorf("attribute %s = %q, want %q (all: %v)", k, gotChild.Attributes[k], v, gotChild.Attributes)
				}
			}
			if n := r.Requests(); n != 2 {
				t.Errorf("%d requests, want 2 (one per span with a syncer)", n)
			}
		})
	}
}

// exportRequest is a valid export of one span of service "hand-made".
func exportRequest(traceID []byte) []byte {
	b, err := proto.Marshal(&coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{{Key: "service.name",
			Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "hand-made"}}}}},
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{
			TraceId: traceID, SpanId: []byte{1, 2, 3, 4, 5, 6, 7, 8}, Name: "by hand", Kind: tracepb.Span_SPAN_KIND_PRODUCER,
		}}}},
	}}})
	if err != nil {
		panic(err)
	}
	return b
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

// TestOTLPReceiverAnswersLikeACollector posts requests by hand: a good
// one (gzipped) is answered 200 with an ExportTraceServiceResponse and
// kept; bad ones are refused with the 4xx a collector gives, and keep
// nothing.
func TestOTLPReceiverAnswersLikeACollector(t *testing.T) {
	r := testenv.StartOTLP(t)
	traceID := bytes.Repeat([]byte{0xab}, 16)
	good := exportRequest(traceID)
	post := func(method, path, contentType, encoding string, body []byte) (int, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, r.Endpoint()+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", contentType)
		if encoding != "" {
			req.Header.Set("Content-Encoding", encoding)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}

	for _, tc := range []struct {
		name, method, path, contentType, encoding string
		body                                      []byte
		status                                    int
	}{
		{"a truncated protobuf", "POST", "/v1/traces", "application/x-protobuf", "", []byte{0x0a, 0xff, 0xff, 0xff}, http.StatusBadRequest},
		{"a plain body said to be gzipped", "POST", "/v1/traces", "application/x-protobuf", "gzip", good, http.StatusBadRequest},
		{"a trace ID of 3 bytes", "POST", "/v1/traces", "application/x-protobuf", "", exportRequest([]byte{1, 2, 3}), http.StatusBadRequest},
		{"JSON", "POST", "/v1/traces", "application/json", "", []byte(`{"resourceSpans":[]}`), http.StatusUnsupportedMediaType},
		{"brotli", "POST", "/v1/traces", "application/x-protobuf", "br", good, http.StatusUnsupportedMediaType},
		{"a GET", "GET", "/v1/traces", "", "", nil, http.StatusMethodNotAllowed},
		{"metrics", "POST", "/v1/metrics", "application/x-protobuf", "", good, http.StatusNotFound},
	} {
		if status, body := post(tc.method, tc.path, tc.contentType, tc.encoding, tc.body); status != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, status, body, tc.status)
		}
	}
	if spans := r.Spans(); len(spans) != 0 {
		t.Errorf("refused requests left spans:\n%s", testenv.FormatSpans(spans))
	}
	if n := len(r.Refused()); n != 7 {
		t.Errorf("%d requests refused, want 7: %q", n, r.Refused())
	}

	status, body := post("POST", "/v1/traces", "application/x-protobuf", "gzip", gzipped(good))
	var resp coltracepb.ExportTraceServiceResponse
	if status != http.StatusOK || proto.Unmarshal(body, &resp) != nil || resp.GetPartialSuccess().GetRejectedSpans() != 0 {
		t.Fatalf("a good gzipped export: %d %q", status, body)
	}
	spans := r.Spans()
	if len(spans) != 1 || spans[0].TraceID != "abababababababababababababababab" || spans[0].SpanID != "0102030405060708" ||
		spans[0].Service != "hand-made" || spans[0].Kind != "producer" || spans[0].Name != "by hand" {
		t.Errorf("after a good export, spans:\n%s", testenv.FormatSpans(spans))
	}
	if r.Requests() != 8 {
		t.Errorf("%d requests counted, want 8", r.Requests())
	}
}
