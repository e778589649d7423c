package testenv

import (
	"compress/gzip"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// maxOTLPBody bounds an export request (after gzip): a batch of the
// SDK's default 512 spans fits many times over.
const maxOTLPBody = 16 << 20

// OTLPReceiver is a real OTLP/HTTP trace endpoint on loopback, as a
// collector (Jaeger, Tempo, the OpenTelemetry Collector) offers it: it
// takes the export requests the SDK's otlptracehttp exporter sends to
// POST /v1/traces (protobuf, gzipped or not), decodes them with the
// OTLP protobuf types and keeps every span, so that a test can assert
// on what a process really exported, across processes.
type OTLPReceiver struct {
	srv *httptest.Server

	mu       sync.Mutex
	spans    []Span
	requests int // every request that reached the server, good or bad
	refused  []string
}

// Span is one received span, flattened with its resource's service.name.
// IDs are lowercase hex as in traceparent headers and trace_id log
// fields; a root span's ParentSpanID is "".
type Span struct {
	TraceID, SpanID, ParentSpanID string
	Name                          string
	// Kind is "internal", "server", "client", "producer" or "consumer"
	// ("" when unspecified).
	Kind string
	// Service is the resource's service.name: which process sent it.
	Service string
	// Scope is the instrumentation scope (the tracer's name).
	Scope string
	// Attributes are the span's attributes, each value as text (numbers
	// and booleans as strconv writes them, arrays as "[a b]").
	Attributes map[string]string
	// Status is "unset", "ok" or "error"; StatusMessage its description.
	Status, StatusMessage string
	Start, End            time.Time
}

// StartOTLP starts a receiver on 127.0.0.1, closed when the test ends.
func StartOTLP(t testing.TB) *OTLPReceiver {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen for the OTLP receiver: %v", err)
	}
	return StartOTLPOn(t, l)
}

// StartOTLPOn starts a receiver on l, closed when the test ends: on the
// exporter's default address (localhost:4318), it catches a process that
// exports without being told where to.
func StartOTLPOn(t testing.TB, l net.Listener) *OTLPReceiver {
	t.Helper()
	r := &OTLPReceiver{}
	r.srv = httptest.NewUnstartedServer(http.HandlerFunc(r.serve))
	_ = r.srv.Listener.Close()
	r.srv.Listener = l
	r.srv.Start()
	t.Cleanup(r.srv.Close)
	return r
}

// Endpoint is the base URL to give an exporter as
// OTEL_EXPORTER_OTLP_ENDPOINT (it appends /v1/traces itself).
func (r *OTLPReceiver) Endpoint() string { return r.srv.URL }

// Addr is the receiver's host:port.
func (r *OTLPReceiver) Addr() string { return r.srv.Listener.Addr().String() }

// Spans returns a copy of every span received so far, in arrival order.
func (r *OTLPReceiver) Spans() []Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Span(nil), r.spans...)
}

// Requests counts every request the receiver got, accepted or refused:
// zero means nothing was sent to it at all.
func (r *OTLPReceiver) Requests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests
}

// Refused lists why each refused request was refused.
func (r *OTLPReceiver) Refused() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.refused...)
}

// WaitFor polls the received spans until cond holds for them and returns
// them, failing the test after timeout with a summary of what did arrive.
// Exporters batch (OTEL_BSP_SCHEDULE_DELAY), so a span ended now may
// arrive some time later: a test waits for it, never sleeps.
func (r *OTLPReceiver) WaitFor(t testing.TB, timeout time.Duration, cond func([]Span) bool) []Span {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		spans := r.Spans()
		if cond(spans) {
			return spans
		}
		if time.Now().After(deadline) {
			t.Fatalf("the OTLP receiver did not get the spans waited for within %s; %d requests, refused %q, spans:\n%s",
				timeout, r.Requests(), r.Refused(), FormatSpans(spans))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// FormatSpans lists spans one a line, for failure messages.
func FormatSpans(spans []Span) string {
	var b strings.Builder
	for _, s := range spans {
		fmt.Fprintf(&b, "  %s %s parent=%s %-8s %-22s %q status=%s\n", s.TraceID, s.SpanID, or(s.ParentSpanID, "-"), s.Kind, s.Service, s.Name, s.Status)
	}
	return b.String()
}

func or(s, otherwise string) string {
	if s == "" {
		return otherwise
	}
	return s
}

// serve handles one export request as an OTLP/HTTP collector does:
// 200 with an ExportTraceServiceResponse for a good one, 4xx naming the
// problem otherwise (which the exporter reports and does not retry).
func (r *OTLPReceiver) serve(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.requests++
	r.mu.Unlock()
	status, err := r.export(req)
	if err != nil {
		r.mu.Lock()
		r.refused = append(r.refused, err.Error())
		r.mu.Unlock()
		http.Error(w, err.Error(), status)
		return
	}
	body, err := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(body)
}

// export reads, decodes and keeps one request's spans; on failure it
// returns the status to answer with.
func (r *OTLPReceiver) export(req *http.Request) (int, error) {
	switch {
	case req.URL.Path != "/v1/traces":
		return http.StatusNotFound, fmt.Errorf("no OTLP endpoint at %s (traces go to /v1/traces)", req.URL.Path)
	case req.Method != http.MethodPost:
		return http.StatusMethodNotAllowed, fmt.Errorf("%s /v1/traces: exports are POSTed", req.Method)
	}
	if typ, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type")); typ != "application/x-protobuf" {
		return http.StatusUnsupportedMediaType, fmt.Errorf("content type %q: this receiver reads application/x-protobuf", req.Header.Get("Content-Type"))
	}
	body := io.LimitReader(req.Body, maxOTLPBody+1)
	switch enc := strings.ToLower(req.Header.Get("Content-Encoding")); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			return http.StatusBadRequest, fmt.Errorf("gzip body: %w", err)
		}
		defer zr.Close()
		body = io.LimitReader(zr, maxOTLPBody+1)
	default:
		return http.StatusUnsupportedMediaType, fmt.Errorf("content encoding %q: gzip or none", enc)
	}
	raw, err := io.ReadAll(body)
	switch {
	case err != nil:
		return http.StatusBadRequest, fmt.Errorf("read body: %w", err)
	case len(raw) > maxOTLPBody:
		return http.StatusRequestEntityTooLarge, errors.New("body over 16 MiB")
	}
	var msg coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(raw, &msg); err != nil {
		return http.StatusBadRequest, fmt.Errorf("not an ExportTraceServiceRequest: %w", err)
	}
	spans, err := flatten(&msg)
	if err != nil {
		return http.StatusBadRequest, err
	}
	r.mu.Lock()
	r.spans = append(r.spans, spans...)
	r.mu.Unlock()
	return http.StatusOK, nil
}

// flatten turns a request's resource → scope → span tree into Spans,
// refusing spans whose IDs are not of OTLP's sizes (16 and 8 bytes).
func flatten(msg *coltracepb.ExportTraceServiceRequest) ([]Span, error) {
	var out []Span
	for _, rs := range msg.GetResourceSpans() {
		service := attributes(rs.GetResource().GetAttributes())["service.name"]
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				if len(s.GetTraceId()) != 16 || len(s.GetSpanId()) != 8 || (len(s.GetParentSpanId()) != 0 && len(s.GetParentSpanId()) != 8) {
					return nil, fmt.Errorf("span %q: trace ID of %d bytes, span ID of %d, parent of %d (want 16, 8, 8 or none)",
						s.GetName(), len(s.GetTraceId()), len(s.GetSpanId()), len(s.GetParentSpanId()))
				}
				out = append(out, Span{
					TraceID:       hex.EncodeToString(s.GetTraceId()),
					SpanID:        hex.EncodeToString(s.GetSpanId()),
					ParentSpanID:  hex.EncodeToString(s.GetParentSpanId()),
					Name:          s.GetName(),
					Kind:          spanKind(s.GetKind()),
					Service:       service,
					Scope:         ss.GetScope().GetName(),
					Attributes:    attributes(s.GetAttributes()),
					Status:        statusCode(s.GetStatus().GetCode()),
					StatusMessage: s.GetStatus().GetMessage(),
					Start:         time.Unix(0, int64(s.GetStartTimeUnixNano())),
					End:           time.Unix(0, int64(s.GetEndTimeUnixNano())),
				})
			}
		}
	}
	return out, nil
}

func spanKind(k tracepb.Span_SpanKind) string {
	switch k {
	case tracepb.Span_SPAN_KIND_INTERNAL:
		return "internal"
	case tracepb.Span_SPAN_KIND_SERVER:
		return "server"
	case tracepb.Span_SPAN_KIND_CLIENT:
		return "client"
	case tracepb.Span_SPAN_KIND_PRODUCER:
		return "producer"
	case tracepb.Span_SPAN_KIND_CONSUMER:
		return "consumer"
	}
	return ""
}

func statusCode(c tracepb.Status_StatusCode) string {
	switch c {
	case tracepb.Status_STATUS_CODE_OK:
		return "ok"
	case tracepb.Status_STATUS_CODE_ERROR:
		return "error"
	}
	return "unset"
}

func attributes(kvs []*commonpb.KeyValue) map[string]string {
	out := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		out[kv.GetKey()] = valueText(kv.GetValue())
	}
	return out
}

// valueText writes an attribute value as text.
func valueText(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_BoolValue:
		return strconv.FormatBool(x.BoolValue)
	case *commonpb.AnyValue_IntValue:
		return strconv.FormatInt(x.IntValue, 10)
	case *commonpb.AnyValue_DoubleValue:
		return strconv.FormatFloat(x.DoubleValue, 'g', -1, 64)
	case *commonpb.AnyValue_BytesValue:
		return hex.EncodeToString(x.BytesValue)
	case *commonpb.AnyValue_ArrayValue:
		parts := make([]string, 0, len(x.ArrayValue.GetValues()))
		for _, e := range x.ArrayValue.GetValues() {
			parts = append(parts, valueText(e))
		}
		return "[" + strings.Join(parts, " ") + "]"
	case *commonpb.AnyValue_KvlistValue:
		parts := make([]string, 0, len(x.KvlistValue.GetValues()))
		for _, kv := range x.KvlistValue.GetValues() {
			parts = append(parts, kv.GetKey()+"="+valueText(kv.GetValue()))
		}
		return "{" + strings.Join(parts, " ") + "}"
	}
	return ""
}
