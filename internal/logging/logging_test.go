package logging_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/launchkit/launchkit/internal/logging"
)

func TestSecretsAreScrubbedInEveryFormat(t *testing.T) {
	secrets := []string{`pa"ss\word-123`, "tok-abcdef123456", "short"}
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			log := logging.New(&buf, logging.Options{Format: format, Level: "debug", Secrets: secrets})
			log.Info("connecting with tok-abcdef123456", "password", `pa"ss\word-123`, "err", errors.New("auth failed for tok-abcdef123456"))
			log.With("dsn", "postgres://u:tok-abcdef123456@db/x").Debug("opened")
			out := buf.String()
			for _, s := range []string{"tok-abcdef123456", `pa"ss\word-123`, `pa\"ss\\word-123`, `ss\\\\word`} {
				if strings.Contains(out, s) {
					t.Errorf("output contains %q:\n%s", s, out)
				}
			}
			if strings.Count(out, "[redacted]") < 4 {
				t.Errorf("want every occurrence redacted:\n%s", out)
			}
			// Values under six bytes are too common to hide.
			log.Info("a short value", "v", "short")
			if !strings.Contains(buf.String(), "short") {
				t.Error("short values must be left alone")
			}
		})
	}
}

func TestRequestIDIsOnEveryLineLoggedWithTheContext(t *testing.T) {
	var buf bytes.Buffer
	log := logging.New(&buf, logging.Options{Format: "text", Level: "info"})
	ctx := logging.WithRequestID(context.Background(), "req-0001")
	log.InfoContext(ctx, "first")
	log.With("component", "x").WarnContext(ctx, "second")
	log.WithGroup("job").InfoContext(ctx, "third", "attempt", 2)
	log.Info("no context")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("got %d lines", len(lines))
	}
	for _, l := range lines[:3] {
		if !strings.Contains(l, "request_id=req-0001") {
			t.Errorf("line lacks the request ID: %s", l)
		}
	}
	if strings.Contains(lines[3], "request_id") {
		t.Errorf("a line without a request context got an ID: %s", lines[3])
	}
	if logging.RequestID(context.Background()) != "" {
		t.Error("RequestID of a bare context must be empty")
	}
}

func TestLevels(t *testing.T) {
	var buf bytes.Buffer
	log := logging.New(&buf, logging.Options{Format: "json", Level: "warn"})
	log.Info("hidden")
	log.Warn("shown")
	if strings.Contains(buf.String(), "hidden") || !strings.Contains(buf.String(), `"msg":"shown"`) {
		t.Errorf("level warn, json:\n%s", buf.String())
	}
}

func TestTraceAndSpanIDsAreOnLinesLoggedInASpan(t *testing.T) {
	var buf bytes.Buffer
	log := logging.New(&buf, logging.Options{Format: "json", Level: "info"})
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled,
	}))
	log.InfoContext(logging.WithRequestID(ctx, "req-0001"), "in a span")
	log.InfoContext(context.Background(), "outside")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines", len(lines))
	}
	for _, want := range []string{`"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"`, `"span_id":"00f067aa0ba902b7"`, `"request_id":"req-0001"`} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("line in a span lacks %s: %s", want, lines[0])
		}
	}
	if strings.Contains(lines[1], "trace_id") || strings.Contains(lines[1], "span_id") {
		t.Errorf("a line outside any span got trace IDs: %s", lines[1])
	}
}
