package opsserver_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/launchkit/launchkit/internal/opsserver"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

// TestListenersServeTheirHandlerAloneUntilStopped: each listener serves
// its own handler (metrics from the registry given, profiles under
// /debug/pprof/), says where in the log, and closes on Stop.
func TestListenersServeTheirHandlerAloneUntilStopped(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "launchkit_test_total", Help: "a test counter"})
	reg.MustRegister(c)
	c.Add(3)
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	s, err := opsserver.Start([]opsserver.Listener{
		{Key: "METRICS_ADDR", Addr: "127.0.0.1:0", Handler: opsserver.Metrics(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})), Name: "metrics listening", Path: "/metrics"},
		{Key: "DEBUG_ADDR", Addr: "127.0.0.1:0", Handler: opsserver.Debug(), Name: "debug listening", Path: "/debug/pprof/"},
	}, logger)
	if err != nil {
		t.Fatal(err)
	}
	urls := map[string]string{}
	for _, m := range regexp.MustCompile(`msg="(\w+) listening" addr=\S+ url=(\S+)`).FindAllStringSubmatch(logs.String(), -1) {
		urls[m[1]] = m[2]
	}
	metrics, debug := urls["metrics"], urls["debug"]
	if !strings.HasSuffix(metrics, "/metrics") || !strings.HasSuffix(debug, "/debug/pprof/") {
		t.Fatalf("the start-up lines do not give both URLs:\n%s", logs.String())
	}
	if code, body := get(t, metrics); code != http.StatusOK || !strings.Contains(body, "launchkit_test_total 3") {
		t.Errorf("metrics: %d\n%.300s", code, body)
	}
	if code, body := get(t, debug+"goroutine?debug=1"); code != http.StatusOK || !strings.Contains(body, "goroutine profile:") {
		t.Errorf("goroutine profile: %d\n%.300s", code, body)
	}
	if code, _ := get(t, strings.TrimSuffix(metrics, "/metrics")+"/debug/pprof/"); code != http.StatusNotFound {
		t.Errorf("the metrics listener answered /debug/pprof/ with %d, want 404", code)
	}
	if code, _ := get(t, strings.TrimSuffix(debug, "/debug/pprof/")+"/metrics"); code != http.StatusNotFound {
		t.Errorf("the debug listener answered /metrics with %d, want 404", code)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	s.Stop(ctx)
	if _, err := http.Get(metrics); err == nil {
		t.Error("the metrics listener still answers after Stop")
	}
}

// TestAnAddressInUseIsNamedAndNothingStaysOpen: when one listener's
// address is taken, Start fails naming its key and address, and closes
// the listeners it had opened.
func TestAnAddressInUseIsNamedAndNothingStaysOpen(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	freeAddr := free.Addr().String()
	_ = free.Close()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	_, err = opsserver.Start([]opsserver.Listener{
		{Key: "METRICS_ADDR", Addr: freeAddr, Handler: http.NotFoundHandler(), Name: "metrics listening"},
		{Key: "DEBUG_ADDR", Addr: taken.Addr().String(), Handler: opsserver.Debug(), Name: "debug listening"},
	}, logger)
	if err == nil || !strings.HasPrefix(err.Error(), "DEBUG_ADDR "+taken.Addr().String()+": listen tcp") {
		t.Fatalf("Start with DEBUG_ADDR taken: %v", err)
	}
	ln, err := net.Listen("tcp", freeAddr)
	if err != nil {
		t.Fatalf("METRICS_ADDR's listener was left open: %v", err)
	}
	_ = ln.Close()
}

// TestServedURL: a wildcard address shows as localhost, so the logged
// URL is one a browser on the host can open.
func TestServedURL(t *testing.T) {
	for addr, want := range map[string]string{
		"0.0.0.0:9100":   "http://localhost:9100",
		"[::]:9100":      "http://localhost:9100",
		"127.0.0.1:6060": "http://127.0.0.1:6060",
		"10.1.2.3:80":    "http://10.1.2.3:80",
	} {
		a, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := opsserver.ServedURL(a); got != want {
			t.Errorf("ServedURL(%s) = %s, want %s", addr, got, want)
		}
	}
}
