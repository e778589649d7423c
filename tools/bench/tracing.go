package main

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// tracingResult is the tracing step: the same signed-in page load against
// bin/web with tracing off and with every request sampled and exported to
// a receiver in the bench process.
type tracingResult struct {
	off, on       []loadResult // by round
	offKiB, onKiB int64        // peak RSS over all rounds
	// served is every page the traced process answered the load
	// (warm-ups included): what its spans came from.
	served   int64
	received receiverCounts
}

// ratios is on ÷ off of each round's throughput, in round order.
func (t tracingResult) ratios() []float64 {
	var rs []float64
	for i := range min(len(t.off), len(t.on)) {
		rs = append(rs, t.on[i].perSecond()/t.off[i].perSecond())
	}
	return rs
}

func medianFloat(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[len(s)/2]
}

// mergedLatencies is the latencies of every run together.
func mergedLatencies(runs []loadResult) *histogram {
	h := newHistogram()
	for _, r := range runs {
		h.merge(r.latencies)
	}
	return h
}

// receiverCounts is what an OTLP receiver was sent.
type receiverCounts struct {
	requests, bytes, spans int64
	// undecoded counts bodies that were not an OTLP trace export.
	undecoded int64
}

// otlpReceiver is the smallest OTLP/HTTP trace endpoint: it answers every
// POST /v1/traces 200 at once, after counting the body's bytes (as sent,
// compressed or not) and the spans in it. It stands in for a collector on
// the same machine, so the figure is the app's cost of tracing, not a
// network's or a collector's.
type otlpReceiver struct {
	srv *http.Server
	url string

	mu     sync.Mutex
	counts receiverCounts
}

// startReceiver listens on a loopback port of its own.
func startReceiver() (*otlpReceiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &otlpReceiver{url: "http://" + ln.Addr().String()}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", r.export)
	r.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

// export counts one batch of spans and answers with an empty
// ExportTraceServiceResponse (all accepted).
func (r *otlpReceiver) export(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 64<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	spans, ok := countSpans(body, req.Header.Get("Content-Encoding"))
	r.mu.Lock()
	r.counts.requests++
	r.counts.bytes += int64(len(body))
	r.counts.spans += spans
	if !ok {
		r.counts.undecoded++
	}
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(http.StatusOK)
}

// countSpans decodes an OTLP trace export (gzip-compressed when encoding
// says so) and returns how many spans it holds.
func countSpans(body []byte, encoding string) (int64, bool) {
	if strings.EqualFold(encoding, "gzip") {
		zr, err := gzip.NewReader(strings.NewReader(string(body)))
		if err != nil {
			return 0, false
		}
		if body, err = io.ReadAll(zr); err != nil {
			return 0, false
		}
	}
	var msg coltrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &msg); err != nil {
		return 0, false
	}
	var n int64
	for _, rs := range msg.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			n += int64(len(ss.GetSpans()))
		}
	}
	return n, true
}

// snapshot is what the receiver counted so far.
func (r *otlpReceiver) snapshot() receiverCounts {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts
}

func (r *otlpReceiver) close() { _ = r.srv.Close() }

// tracingRuns loads the signed-in home of two web processes built alike
// and started alike on databases prepared alike, one with tracing off
// (no OTEL_* variable: the default) and one exporting every request's
// spans to an OTLP receiver in this process, taking turns round by round.
func (b *bench) tracingRuns(ctx context.Context) error {
	recv, err := startReceiver()
	if err != nil {
		return err
	}
	defer recv.close()
	start := func(extra ...string) (*site, error) {
		dbURL := b.sqliteDB()
		if err := b.prepareDB(ctx, dbURL); err != nil {
			return nil, err
		}
		return b.startWeb(dbURL, "database", extra...)
	}
	off, err := start()
	if err != nil {
		return err
	}
	defer func() { _ = off.stop() }()
	on, err := start("OTEL_EXPORTER_OTLP_ENDPOINT="+recv.url, "OTEL_TRACES_SAMPLER=always_on")
	if err != nil {
		return err
	}
	stopOn := sync.OnceValue(on.stop)
	defer func() { _ = stopOn() }()

	sites := map[bool]*site{false: off, true: on}
	reqs := map[bool]func(int) *http.Request{}
	for traced, s := range sites {
		cookie, err := signIn(s.base, benchEmail, loopback(1))
		if err != nil {
			return err
		}
		if reqs[traced], err = signedInHome(s.base, cookie); err != nil {
			return err
		}
	}
	res := tracingResult{}
	spec := loadSpec{conns: b.opts.conns, warmup: b.opts.warmup, duration: b.opts.duration, status: http.StatusOK}
	for round := range max(b.opts.tracingRounds, 1) {
		// off, on, on, off, off, on…: each takes the first turn as often.
		order := []bool{false, true}
		if round%2 == 1 {
			order = []bool{true, false}
		}
		for _, traced := range order {
			s := sites[traced]
			spec.request = reqs[traced]
			sampler := samplePeak(s.proc)
			lr := runLoad(ctx, spec)
			peak := sampler.finish()
			if lr.requests == 0 {
				return fmt.Errorf("tracing step: %w (first error: %v)", errNoRequests, lr.firstErr)
			}
			if traced {
				res.on, res.onKiB, res.served = append(res.on, lr), max(res.onKiB, peak), res.served+lr.all
			} else {
				res.off, res.offKiB = append(res.off, lr), max(res.offKiB, peak)
			}
			b.logf("tracing %-3s round %d: %8.0f req/s  p50 %-8s p99 %-8s errors %d", onOff(traced), round+1,
				lr.perSecond(), lr.latencies.quantile(0.5), lr.latencies.quantile(0.99), lr.errors)
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	// Stopping flushes what the batcher still holds, so every span the
	// traced process kept has reached the receiver when it has exited.
	if err := stopOn(); err != nil {
		return err
	}
	res.received = recv.snapshot()
	if res.received.spans == 0 {
		return fmt.Errorf("tracing step: the traced web exported no span to %s\n%s", recv.url, on.output())
	}
	b.rep.tracing = &res
	rs := res.ratios()
	b.logf("tracing on ÷ off: median %.2f (%.2f–%.2f); %d spans in %d exports, %s",
		medianFloat(rs), slices.Min(rs), slices.Max(rs), res.received.spans, res.received.requests, kib(res.received.bytes))
	return nil
}

func onOff(traced bool) string {
	if traced {
		return "on"
	}
	return "off"
}

// tracingMarkdown is the tracing step's section of the report.
func (r *report) tracingMarkdown() string {
	t := r.tracing
	if t == nil {
		return ""
	}
	var b strings.Builder
	b.WriteString("\n## Tracing\n\n")
	fmt.Fprintf(&b, "The signed-in home (default settings, as in the load table) of two `bin/web` processes\n"+
		"started alike on databases prepared alike: one with tracing off (no `OTEL_*` variable, the\n"+
		"default: nothing is installed), one with `OTEL_TRACES_SAMPLER=always_on` exporting every\n"+
		"request's spans over OTLP/HTTP to a receiver in the bench process that counts them and\n"+
		"answers 200 at once. %d rounds, each %s warm-up then %s measured with %d connections; the\n"+
		"two take turns (off first in odd rounds, on first in even ones) so that the machine's other\n"+
		"work falls on both alike, and the ratio is taken round by round.\n\n",
		len(t.off), r.opts.warmup, r.opts.duration, r.opts.conns)
	b.WriteString("| web | req/s, median | rounds | p50 | p99 | peak RSS | × tracing off |\n|---|--:|--:|--:|--:|--:|--:|\n")
	rate := func(runs []loadResult) (float64, string) {
		rates := make([]float64, len(runs))
		for i, r := range runs {
			rates[i] = r.perSecond()
		}
		return medianFloat(rates), fmt.Sprintf("%.0f–%.0f", slices.Min(rates), slices.Max(rates))
	}
	offRate, offRange := rate(t.off)
	onRate, onRange := rate(t.on)
	rs := t.ratios()
	offH, onH := mergedLatencies(t.off), mergedLatencies(t.on)
	fmt.Fprintf(&b, "| tracing off (the default) | %.0f | %s | %s | %s | %s | — |\n", offRate, offRange, ms(offH.quantile(0.5)), ms(offH.quantile(0.99)), mib(t.offKiB))
	fmt.Fprintf(&b, "| tracing on, every request sampled and exported | %.0f | %s | %s | %s | %s | %.2f (rounds %.2f–%.2f) |\n",
		onRate, onRange, ms(onH.quantile(0.5)), ms(onH.quantile(0.99)), mib(t.onKiB), medianFloat(rs), slices.Min(rs), slices.Max(rs))
	rc := t.received
	fmt.Fprintf(&b, "\nThe receiver got %d spans in %d exports, %s as sent", rc.spans, rc.requests, mibBytes(int(rc.bytes)))
	if t.served > 0 {
		fmt.Fprintf(&b, ": %.1f spans and %.0f bytes per page served (%d pages, warm-ups included)", float64(rc.spans)/float64(t.served), float64(rc.bytes)/float64(t.served), t.served)
	}
	b.WriteString(".")
	if rc.undecoded > 0 {
		fmt.Fprintf(&b, " %d exports could not be decoded.", rc.undecoded)
	}
	b.WriteString("\nWhen the export cannot keep up, the SDK drops spans (its queue holds 2048) rather than\n" +
		"slow requests down, so fewer spans per page than a page makes means some were dropped.\n")
	if signed := r.row(rowSignedDefault); signed != nil {
		fmt.Fprintf(&b, "\nTracing off beside the signed-in row of the load table above (the same binary and settings,\n"+
			"measured earlier in this run): %.2f×.\n", offRate/signed.res.perSecond())
	}
	return b.String()
}
