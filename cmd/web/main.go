// Command web serves the Launchkit site. In development with REDIS_URL
// empty it also runs the background worker and scheduler in-process, on
// an embedded in-memory Redis; with REDIS_URL set it only enqueues.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/launchkit/launchkit/internal/app"
	"github.com/launchkit/launchkit/internal/web"
)

func main() { os.Exit(exitCode()) }

// exitCode runs the process until SIGINT or SIGTERM and returns its exit
// code: 0 after a clean shutdown, 1 on failure, 2 on bad usage.
func exitCode(opts ...web.Option) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr, opts...); err != nil {
		if errors.Is(err, app.ErrUsage) {
			return 2
		}
		fmt.Fprintln(os.Stderr, "web:", err)
		return 1
	}
	return 0
}

// run starts the web process and blocks until ctx is cancelled (SIGINT or
// SIGTERM), then drains requests and tasks and returns nil.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, opts ...web.Option) error {
	cfg, err := app.LoadForServer(ctx, "web", args, getenv, stderr)
	if err != nil {
		return err
	}
	logger := app.StartLogger(cfg, stdout)

	a, err := app.New(ctx, cfg, logger, app.Options{Migrate: true, EmbeddedRedis: !cfg.IsProduction()})
	if err != nil {
		return err
	}
	defer a.Close()
	logger.Info("starting web", "app", cfg.AppName, "detail", a.Describe())

	if a.RunsJobsInProcess() {
		w, err := a.NewWorker()
		if err != nil {
			return err
		}
		if err := w.Start(); err != nil {
			return err
		}
		defer w.Shutdown()
	}

	h, err := web.New(a, opts...)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("ADDR %s: %w", cfg.Addr, err)
	}
	logger.Info("listening", "addr", ln.Addr().String(), "url", cfg.BaseURL)
	if err := web.Serve(ctx, ln, h, cfg.ShutdownTimeout, logger); err != nil {
		return err
	}
	logger.Info("web stopped")
	return nil
}
