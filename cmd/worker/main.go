// Command worker processes background tasks from Redis (queues critical,
// default and low) and, unless DISABLE_SCHEDULER=true, enqueues the
// periodic ones. Run as many as the load needs; exactly one should run the
// scheduler. With METRICS_ADDR it serves its metrics (the tasks it runs,
// by type and result) on that private listener.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/launchkit/launchkit/internal/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, app.ErrUsage) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

// errNoRedis explains why a standalone worker needs REDIS_URL.
var errNoRedis = errors.New("REDIS_URL is not set. The worker takes tasks from the Redis server the web process enqueues to. " +
	"In development `make run` already runs jobs inside the web process on an embedded Redis; " +
	"to run them in a separate worker, start Redis and set REDIS_URL (e.g. redis://localhost:6379/0) for both web and worker")

// run processes tasks until ctx is cancelled, then stops taking new ones,
// lets running ones finish (or hands them back) and returns nil.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := app.LoadForServer(ctx, "worker", args, getenv, stderr)
	if err != nil {
		return err
	}
	if cfg.RedisURL == "" {
		return errNoRedis
	}
	logger := app.StartLogger(cfg, stdout)

	a, err := app.New(ctx, cfg, logger, app.Options{Process: "worker"})
	if err != nil {
		return err
	}
	defer a.Close()
	logger.Info("starting worker", "detail", a.Describe(), "concurrency", cfg.WorkerConcurrency)
	if cfg.MetricsAddr != "" {
		stop, err := serveMetrics(a, cfg.MetricsAddr, logger)
		if err != nil {
			return err
		}
		defer stop()
	}
	// Tasks written with database changes while Redis was away reach the
	// queue from here too.
	defer a.StartOutbox(ctx)()

	w, err := a.NewWorker()
	if err != nil {
		return err
	}
	if err := w.Start(); err != nil {
		return err
	}
	<-ctx.Done()
	logger.Info("shutting down: finishing in-flight tasks", "timeout", cfg.ShutdownTimeout)
	w.Shutdown()
	return nil
}

// serveMetrics serves the worker's /metrics on addr (METRICS_ADDR, a
// private listener: no token) until stop is called. Only there can
// Prometheus read the task counts and durations, which the worker alone
// records.
func serveMetrics(a *app.App, addr string, logger *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("METRICS_ADDR %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.Metrics.Handler(slog.NewLogLogger(logger.Handler(), slog.LevelError)))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	logger.Info("metrics listening", "addr", ln.Addr().String(), "url", "http://"+ln.Addr().String()+"/metrics")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}
