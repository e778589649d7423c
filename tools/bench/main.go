// Command bench measures what Launchkit's web stack costs per request, as
// ratios to a baseline measured in the same run: a bare net/http handler
// writing the same bytes as the home page. Ratios, not absolute times, are
// what compare across machines and over time.
//
//	make bench            (go run ./tools/bench)
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"text/tabwriter"

	"github.com/launchkit/launchkit/internal/app"
	"github.com/launchkit/launchkit/internal/config"
	"github.com/launchkit/launchkit/internal/web"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// scenario is one request measured against the handler.
type scenario struct {
	name   string
	path   string
	status int
}

var scenarios = []scenario{
	{name: "home page (template, anonymous session)", path: "/", status: 200},
	{name: "healthz", path: "/healthz", status: 200},
	{name: "404 page (error template)", path: "/no-such-page", status: 404},
	{name: "API 404 (JSON error)", path: "/api/v1/no-such", status: 404},
	{name: "static CSS file", path: "/static/css/app.css", status: 200},
}

func run(out io.Writer) error {
	dir, err := os.MkdirTemp("", "launchkit-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	env := map[string]string{
		"ENV": "test", "LOG_LEVEL": "error",
		"DATABASE_URL": "sqlite://" + filepath.Join(dir, "app.db"), "MAIL_OUTBOX_DIR": filepath.Join(dir, "outbox"),
	}
	ctx := context.Background()
	cfg, err := config.Load(ctx, config.Options{Getenv: func(k string) string { return env[k] }})
	if err != nil {
		return err
	}
	a, err := app.New(ctx, cfg, app.NewLogger(cfg, io.Discard), app.Options{Migrate: true, EmbeddedRedis: true})
	if err != nil {
		return err
	}
	defer a.Close()
	site, err := web.New(a)
	if err != nil {
		return err
	}

	// The baseline writes exactly the home page's bytes and headers.
	rec := httptest.NewRecorder()
	site.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	page := rec.Body.Bytes()
	baseline := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(page)
	})
	base := measure(baseline, scenario{path: "/", status: 200})
	if base.err != nil {
		return base.err
	}

	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "request\tns/op\tB/op\tallocs/op\ttime × baseline\tbytes × baseline\t")
	fmt.Fprintf(tw, "baseline: net/http writing the home page\t%d\t%d\t%d\t1.0\t1.0\t\n", base.NsPerOp(), base.AllocedBytesPerOp(), base.AllocsPerOp())
	for _, s := range scenarios {
		r := measure(site, s)
		if r.err != nil {
			return r.err
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.1f\t%.1f\t\n", s.name, r.NsPerOp(), r.AllocedBytesPerOp(), r.AllocsPerOp(),
			float64(r.NsPerOp())/float64(max(base.NsPerOp(), 1)), float64(r.AllocedBytesPerOp())/float64(max(base.AllocedBytesPerOp(), 1)))
	}
	return tw.Flush()
}

type result struct {
	testing.BenchmarkResult
	err error
}

// measure runs s against h with testing.Benchmark, checking the status.
func measure(h http.Handler, s scenario) result {
	var err error
	r := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, s.path, nil))
			if rec.Code != s.status && err == nil {
				err = fmt.Errorf("GET %s: status %d, want %d", s.path, rec.Code, s.status)
			}
		}
	})
	return result{r, err}
}
