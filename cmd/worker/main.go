// Command worker processes background tasks from Redis (queues critical,
// default and low) and, unless DISABLE_SCHEDULER=true, enqueues the
// periodic ones. Run as many as the load needs; exactly one should run the
// scheduler.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/launchkit/launchkit/internal/app"
	"github.com/launchkit/launchkit/internal/opsserver"
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
	// Tasks written with database changes while Redis was away reach the
	// queue from here too.
	defer a.StartOutbox(ctx)()

	ops, err := opsserver.Start(opsListeners(a), logger)
	if err != nil {
		return err
	}
	// The listeners outlive the worker's drain, so its last tasks'
	// metrics can still be scraped while it finishes them.
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		ops.Stop(sctx)
	}()

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

// opsListeners are the worker's private listeners: METRICS_ADDR serves
// its Prometheus registry (task outcomes and durations are counted there,
// in this process, not in the web's), DEBUG_ADDR its runtime profiles on
// loopback unless a host is given. The worker has no public address, so
// there is no token: keep METRICS_ADDR private.
func opsListeners(a *app.App) []opsserver.Listener {
	var ls []opsserver.Listener
	if a.Config.MetricsAddr != "" {
		ls = append(ls, opsserver.Listener{Key: "METRICS_ADDR", Addr: a.Config.MetricsAddr, Handler: opsserver.Metrics(a.Metrics.Handler(slog.NewLogLogger(a.Logger.Handler(), slog.LevelError))), Name: "metrics listening", Path: "/metrics"})
	}
	if a.Config.DebugAddr != "" {
		ls = append(ls, opsserver.Listener{Key: "DEBUG_ADDR", Addr: a.Config.DebugListenAddr(), Handler: opsserver.Debug(), Name: "debug listening", Path: "/debug/pprof/"})
	}
	return ls
}
