package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/launchkit/launchkit/internal/app"
	"github.com/launchkit/launchkit/internal/config"
	"github.com/launchkit/launchkit/internal/web"
)

// microScenario is one request served in process, through the whole
// handler stack but without a network.
type microScenario struct {
	name   string
	path   string
	status int
}

var microScenarios = []microScenario{
	{name: "home page (template, anonymous session)", path: "/", status: 200},
	{name: "healthz", path: "/healthz", status: 200},
	{name: "404 page (error template)", path: "/no-such-page", status: 404},
	{name: "API 404 (JSON error)", path: "/api/v1/no-such", status: 404},
	{name: "static CSS file", path: "/static/css/app.css", status: 200},
}

// microTable measures each scenario with testing.Benchmark against a
// baseline in the same run: a bare net/http handler writing the home
// page's bytes. It returns the table as markdown rows.
func microTable(ctx context.Context, dir string) (string, error) {
	env := map[string]string{
		"ENV": "test", "LOG_LEVEL": "error",
		"DATABASE_URL": "sqlite://" + filepath.Join(dir, "micro.db"), "MAIL_OUTBOX_DIR": filepath.Join(dir, "outbox"),
	}
	cfg, err := config.Load(ctx, config.Options{Getenv: func(k string) string { return env[k] }})
	if err != nil {
		return "", err
	}
	a, err := app.New(ctx, cfg, app.NewLogger(cfg, io.Discard), app.Options{Migrate: true, EmbeddedRedis: true})
	if err != nil {
		return "", err
	}
	defer a.Close()
	site, err := web.New(a)
	if err != nil {
		return "", err
	}

	rec := httptest.NewRecorder()
	site.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	page := rec.Body.Bytes()
	baseline := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(page)
	})
	base := measure(baseline, microScenario{path: "/", status: 200})
	if base.err != nil {
		return "", base.err
	}
	out := "| request | ns/op | B/op | allocs/op | time × baseline | bytes × baseline |\n|---|--:|--:|--:|--:|--:|\n"
	out += fmt.Sprintf("| baseline: net/http writing the home page | %d | %d | %d | 1.0 | 1.0 |\n", base.NsPerOp(), base.AllocedBytesPerOp(), base.AllocsPerOp())
	for _, s := range microScenarios {
		r := measure(site, s)
		if r.err != nil {
			return "", r.err
		}
		out += fmt.Sprintf("| %s | %d | %d | %d | %.1f | %.1f |\n", s.name, r.NsPerOp(), r.AllocedBytesPerOp(), r.AllocsPerOp(),
			float64(r.NsPerOp())/float64(max(base.NsPerOp(), 1)), float64(r.AllocedBytesPerOp())/float64(max(base.AllocedBytesPerOp(), 1)))
	}
	return out, nil
}

type microResult struct {
	testing.BenchmarkResult
	err error
}

// measure runs s against h with testing.Benchmark, checking the status.
func measure(h http.Handler, s microScenario) microResult {
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
	return microResult{r, err}
}
