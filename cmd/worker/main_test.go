package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// freeAddr is a loopback address nothing listens on (yet).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// TestTheWorkerServesItsMetrics: with METRICS_ADDR the worker serves
// /metrics there (its tasks' counts are recorded nowhere else) until it
// stops; an address it cannot listen on stops it, naming the key.
func TestTheWorkerServesItsMetrics(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	vars := map[string]string{
		"ENV": "test", "REDIS_URL": "redis://" + miniredis.RunT(t).Addr(),
		"DATABASE_URL": "sqlite://" + filepath.Join(dir, "app.db"), "AUTO_MIGRATE": "true",
		"MAIL_OUTBOX_DIR": filepath.Join(dir, "outbox"), "METRICS_ADDR": addr,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, func(k string) string { return vars[k] }, io.Discard, io.Discard) }()

	var body string
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if body = string(b); resp.StatusCode == http.StatusOK {
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{"\nlaunchkit_queue_stats_up 1\n", "\ngo_goroutines "} {
		if !strings.Contains(body, want) {
			t.Errorf("the worker's /metrics lacks %q:\n%.500s", want, body)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run = %v", err)
	}
	if _, err := http.Get("http://" + addr + "/metrics"); err == nil {
		t.Error("the worker's /metrics still answers after it stopped")
	}

	// An address in use.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	vars["METRICS_ADDR"] = ln.Addr().String()
	if err := run(context.Background(), nil, func(k string) string { return vars[k] }, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "METRICS_ADDR") {
		t.Errorf("run with METRICS_ADDR in use = %v, want an error naming it", err)
	}
}
