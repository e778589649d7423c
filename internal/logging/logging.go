// Package logging builds the process's slog.Logger: text in development,
// JSON in production, the request ID of the current request (and its
// trace_id and span_id when tracing is on) on every line logged with a
// context, and secret values scrubbed from everything written.
package logging

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/trace"
)

// Options configure New.
type Options struct {
	Format string // "text" or "json"
	Level  string // debug, info, warn, error
	// Secrets are values that must never reach the output; each is
	// replaced by "[redacted]" wherever it appears in a written line.
	Secrets []string
}

// New returns a logger writing to w.
func New(w io.Writer, opts Options) *slog.Logger {
	if len(opts.Secrets) > 0 {
		w = newScrubber(w, opts.Secrets)
	}
	hopts := &slog.HandlerOptions{Level: ParseLevel(opts.Level)}
	var h slog.Handler
	if opts.Format == "json" {
		h = slog.NewJSONHandler(w, hopts)
	} else {
		h = slog.NewTextHandler(w, hopts)
	}
	return slog.New(contextHandler{h})
}

// ParseLevel maps a LOG_LEVEL value to a slog level; unknown means info.
func ParseLevel(s string) slog.Level {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug
	case "warn", "warning":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

type requestIDKey struct{}

// WithRequestID returns a context whose log lines carry id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request ID stored by WithRequestID, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// contextHandler adds the context's request ID to each record, and the
// trace and span it is logged in when tracing is on (internal/telemetry).
type contextHandler struct{ slog.Handler }

func (h contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if ctx == nil {
		return h.Handler.Handle(ctx, r)
	}
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h contextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return contextHandler{h.Handler.WithAttrs(attrs)}
}

func (h contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{h.Handler.WithGroup(name)}
}

// scrubber replaces secrets in every write. slog handlers write one whole
// record per Write, so a secret is never split across two writes.
type scrubber struct {
	mu      sync.Mutex
	w       io.Writer
	replace *strings.Replacer
}

func newScrubber(w io.Writer, secrets []string) *scrubber {
	var pairs []string
	seen := map[string]bool{}
	for _, s := range secrets {
		if len(s) < 6 {
			continue
		}
		// The forms the JSON and text handlers write a string in.
		jsonForm, _ := json.Marshal(s)
		textForm := strconv.Quote(s)
		for _, form := range []string{s, strings.Trim(string(jsonForm), `"`), strings.Trim(textForm, `"`)} {
			if !seen[form] {
				seen[form] = true
				pairs = append(pairs, form, "[redacted]")
			}
		}
	}
	return &scrubber{w: w, replace: strings.NewReplacer(pairs...)}
}

func (s *scrubber) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := io.WriteString(s.w, s.replace.Replace(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}
