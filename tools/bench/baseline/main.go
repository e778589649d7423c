// Command baseline is what make bench measures Launchkit against, run as
// a process of its own like the real binaries:
//
//	baseline hello   -addr A    bare net/http answering "Hello, world"
//	baseline session -addr A    chi + scs (memory store): a page that reads
//	                            and writes one int in the visitor's session
//	baseline asynq   -redis URL -dir D
//	                            a bare asynq server (one queue, no
//	                            middleware, no logging): each bench:mail
//	                            task decodes its message and writes it to
//	                            D with the outbox mailer, as Launchkit's
//	                            mail:send does
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/go-chi/chi/v5"
	"github.com/hibiken/asynq"

	"github.com/launchkit/launchkit/internal/mail"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: baseline hello|session|asynq [flags]")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	redisURL := fs.String("redis", "", "asynq: redis:// URL")
	dir := fs.String("dir", "", "asynq: directory the tasks write to")
	concurrency := fs.Int("concurrency", 10, "asynq: tasks run at once")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch args[0] {
	case "hello":
		return serve(ctx, *addr, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = w.Write([]byte("Hello, world\n"))
		}))
	case "session":
		return serve(ctx, *addr, sessionPage())
	case "asynq":
		return worker(ctx, *redisURL, *dir, *concurrency)
	}
	return fmt.Errorf("unknown baseline %q", args[0])
}

// sessionPage is the smallest real session-backed page: chi routing, scs
// with its memory store, one int read and written per request.
func sessionPage() http.Handler {
	sm := scs.New()
	sm.Store = memstore.New()
	r := chi.NewRouter()
	r.Use(sm.LoadAndSave)
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		n := sm.GetInt(r.Context(), "n") + 1
		sm.Put(r.Context(), "n", n)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><title>visits</title><p>Visit number %d.</p>\n", n)
	})
	return r
}

func serve(ctx context.Context, addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Println("listening on", ln.Addr())
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Shutdown(context.Background())
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// TypeMail is the task the asynq baseline runs.
const TypeMail = "bench:mail"

func worker(ctx context.Context, redisURL, dir string, concurrency int) error {
	opt, err := asynq.ParseRedisURI(redisURL)
	if err != nil {
		return fmt.Errorf("-redis: %w", err)
	}
	srv := asynq.NewServer(opt, asynq.Config{Concurrency: concurrency, LogLevel: asynq.WarnLevel})
	outbox := &mail.Outbox{Dir: dir, Sender: "Bench <bench@localhost>"}
	mux := asynq.NewServeMux()
	mux.HandleFunc(TypeMail, func(ctx context.Context, t *asynq.Task) error {
		var m mail.Message
		if err := json.Unmarshal(t.Payload(), &m); err != nil {
			return err
		}
		return outbox.Send(ctx, m)
	})
	if err := srv.Start(mux); err != nil {
		return err
	}
	fmt.Println("worker started")
	<-ctx.Done()
	srv.Shutdown()
	return nil
}
