// Package opsserver holds what a Launchkit process serves to its
// operators rather than its visitors: Prometheus metrics for a private
// METRICS_ADDR listener and Go's runtime profiles for DEBUG_ADDR. Both the
// web and the worker serve them; the worker has no site, so this package
// stays small and imports nothing of the web's.
package opsserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// Metrics serves scrape (metrics.Metrics.Handler) at GET /metrics and
// nothing else, without a token: for a private listener only.
func Metrics(scrape http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", scrape)
	return mux
}

// Debug serves Go's runtime profiles (net/http/pprof) under
// /debug/pprof/ and nothing else: for the private DEBUG_ADDR listener
// only, as profiles show the process's memory and stacks.
func Debug() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("POST /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return mux
}

// ServedURL is the URL a listener on addr answers at: a wildcard address
// shows as localhost, and port 0 as the port the system picked, so a
// start-up line is a link that works.
func ServedURL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// Listener is one private listener: Handler served on Addr, which the
// config key Key names (for errors), announced in the log as Name with
// its URL and Path.
type Listener struct {
	Key, Addr string
	Handler   http.Handler
	Name      string // the start-up log message, e.g. "metrics listening"
	Path      string // shown after the address in the logged URL
}

// Servers are listeners being served; Stop ends them.
type Servers struct {
	logger  *slog.Logger
	servers []*http.Server
	done    []chan error
}

// Start listens on every listener's address and serves each in the
// background until Stop. When one address cannot be listened on, those
// already open are closed and the error names its key and address
// ("DEBUG_ADDR 127.0.0.1:6060: listen tcp …"), so a start fails clearly.
func Start(listeners []Listener, logger *slog.Logger) (*Servers, error) {
	s := &Servers{logger: logger}
	var lns []net.Listener
	for _, l := range listeners {
		ln, err := net.Listen("tcp", l.Addr)
		if err != nil {
			for _, open := range lns {
				_ = open.Close()
			}
			return nil, fmt.Errorf("%s %s: %w", l.Key, l.Addr, err)
		}
		lns = append(lns, ln)
	}
	for i, l := range listeners {
		ln := lns[i]
		logger.Info(l.Name, "addr", ln.Addr().String(), "url", ServedURL(ln.Addr())+l.Path)
		srv := &http.Server{
			Handler:           l.Handler,
			ReadHeaderTimeout: 10 * time.Second,
			// No write timeout: a CPU profile or an execution trace
			// is written after the seconds it was asked to run, and
			// net/http/pprof refuses any longer than the timeout.
			IdleTimeout: 2 * time.Minute,
			ErrorLog:    slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		}
		done := make(chan error, 1)
		go func() {
			err := srv.Serve(ln)
			if !errors.Is(err, http.ErrServerClosed) {
				logger.Error(l.Name+": stopped serving", "addr", ln.Addr().String(), "err", err)
			}
			done <- err
		}()
		s.servers = append(s.servers, srv)
		s.done = append(s.done, done)
	}
	return s, nil
}

// Stop lets each listener finish the answers under way, within ctx, and
// closes it.
func (s *Servers) Stop(ctx context.Context) {
	if s == nil {
		return
	}
	for i, srv := range s.servers {
		if err := srv.Shutdown(ctx); err != nil {
			_ = srv.Close()
		}
		<-s.done[i]
	}
}
