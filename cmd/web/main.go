// Command web serves the Launchkit site. In development with REDIS_URL
// empty it also runs the background worker and scheduler in-process, on
// an embedded in-memory Redis; with REDIS_URL set it only enqueues.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/launchkit/launchkit/internal/app"
	"github.com/launchkit/launchkit/internal/web"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "web:", err)
		os.Exit(1)
	}
}

// run starts the web process and blocks until ctx is cancelled (SIGINT or
// SIGTERM), then drains requests and tasks and returns nil.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, opts ...web.Option) error {
	var flags app.Flags
	fs := flag.NewFlagSet("web", flag.ContinueOnError)
	fs.SetOutput(stderr)
	flags.Register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}

	cfg, err := app.LoadConfig(ctx, flags, getenv)
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
