// Command web serves the Launchkit site. In development with REDIS_URL
// empty it also runs the background worker and scheduler in-process, on
// an embedded in-memory Redis; with REDIS_URL set it only enqueues.
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
	"strings"
	"syscall"
	"time"

	"github.com/launchkit/launchkit/internal/app"
	"github.com/launchkit/launchkit/internal/opsserver"
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

	a, err := app.New(ctx, cfg, logger, app.Options{Migrate: true, EmbeddedRedis: !cfg.IsProduction(), Process: "web"})
	if err != nil {
		return err
	}
	defer a.Close()
	logger.Info("starting web", "app", cfg.AppName, "detail", a.Describe())
	if a.Directory != nil {
		// Said once at start, so a wrong LDAP_HOST or service password
		// shows before the first person tries to sign in.
		go func() {
			if err := a.Directory.Ping(ctx); err != nil && ctx.Err() == nil {
				logger.Warn("directory sign-in: the directory does not answer; directory users cannot sign in until it does", "err", err)
			}
		}()
	}
	defer a.StartOutbox(ctx)()

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

	drain := &web.Drain{}
	h, err := web.New(a, append(opts, web.WithDrain(drain))...)
	if err != nil {
		return err
	}
	servers := []server{{key: "ADDR", addr: cfg.Addr, handler: h, name: "listening", baseURL: cfg.BaseURL}}
	if cfg.MetricsAddr != "" {
		servers = append(servers, server{key: "METRICS_ADDR", addr: cfg.MetricsAddr, handler: web.MetricsHandler(a), name: "metrics listening", path: "/metrics"})
	} else if cfg.IsProduction() && cfg.MetricsToken == "" {
		logger.Info("/metrics is not served: set METRICS_TOKEN to serve it on ADDR behind a token, or METRICS_ADDR for a private listener")
	}
	if cfg.DebugAddr != "" {
		servers = append(servers, server{key: "DEBUG_ADDR", addr: cfg.DebugListenAddr(), handler: web.DebugHandler(), name: "debug listening", path: "/debug/pprof/"})
	}
	serving, stop := drainFirst(ctx, drain, cfg.ShutdownDrainDelay, logger)
	defer stop()
	if err := serve(serving, servers, cfg.ShutdownTimeout, logger); err != nil {
		return err
	}
	logger.Info("web stopped")
	return nil
}

// server is one listener of the web process.
type server struct {
	key, addr string // the config key naming addr, for errors
	handler   http.Handler
	name      string // its start-up log message
	path      string // the path its URL shows, after the address
	baseURL   string // the public URL, shown too when it is not the URL served
}

// serve answers on each server's address until ctx is cancelled or one
// of them fails, then drains them all.
func serve(ctx context.Context, servers []server, shutdownTimeout time.Duration, logger *slog.Logger) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, len(servers))
	started := 0
	var first error
	for _, srv := range servers {
		ln, err := net.Listen("tcp", srv.addr)
		if err != nil {
			first = fmt.Errorf("%s %s: %w", srv.key, srv.addr, err)
			cancel()
			break
		}
		url := opsserver.ServedURL(ln.Addr()) + srv.path
		attrs := []any{"addr", ln.Addr().String(), "url", url}
		if srv.baseURL != "" && strings.TrimSuffix(srv.baseURL, "/") != url {
			// Links in mail use BASE_URL: say so when it is elsewhere.
			attrs = append(attrs, "base_url", srv.baseURL)
		}
		logger.Info(srv.name, attrs...)
		started++
		go func() {
			err := web.Serve(ctx, ln, srv.handler, shutdownTimeout, logger)
			if err != nil {
				cancel()
			}
			errc <- err
		}()
	}
	for range started {
		if err := <-errc; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// drainFirst returns a context that ends delay after ctx does: between
// the two, drain is started, so /readyz answers 503 while requests are
// still served, and the load balancer has time to take this process out
// of rotation before it stops accepting (SHUTDOWN_DRAIN_DELAY). Calling
// stop ends it at once.
func drainFirst(ctx context.Context, drain *web.Drain, delay time.Duration, logger *slog.Logger) (serving context.Context, stop func()) {
	serving, stop = context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		defer stop()
		select {
		case <-ctx.Done():
		case <-serving.Done():
			return
		}
		if delay <= 0 {
			return
		}
		drain.Start()
		logger.Info("shutting down: /readyz answers 503 while the load balancer takes this process out", "delay", delay)
		select {
		case <-time.After(delay):
		case <-serving.Done():
		}
	}()
	return serving, stop
}
