// Package errreport sends the errors that need a person — a panic, a
// request answered with a 500, a task out of retries — to an error
// tracker speaking Sentry's protocol (Sentry, GlitchTip, Bugsink), named
// by SENTRY_DSN. It sits beside the admins' error mail (internal/alerts):
// the mail says "look now", the tracker groups, counts and keeps them.
//
// Each report carries the request or task ID, the trace ID (when tracing
// is on), the route pattern or task type and the signed-in user's ID,
// and nothing a request brought with it: no body, no headers, no cookies,
// no address (a path can hold a token). What does go — the error text,
// the stack, tags — is scrubbed in BeforeSend of every configured secret
// value and of anything shaped like a credential (scrub.go).
//
// Delivery is the SDK's: the report is queued and sent by its own
// goroutine, so the request or task that failed never waits on the
// tracker; Close flushes what is queued, within a bound, at exit.
package errreport

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/getsentry/sentry-go"
	"go.opentelemetry.io/otel/trace"

	"github.com/launchkit/launchkit/internal/telemetry"
)

// Options configure a Reporter.
type Options struct {
	// DSN is SENTRY_DSN; empty turns reporting off (New returns nil).
	DSN string
	// Environment is ENV, Release the build (telemetry.Release), ""
	// when unknown.
	Environment string
	Release     string
	// Scrub hides the configured secret values in a text
	// (config.Config.Scrub); the pattern scrubbing runs after it.
	Scrub func(string) string
	// SecretNames are names, besides the usual ones (password, token…),
	// whose value in a name=value pair is a secret: the session cookie's
	// name (SESSION_COOKIE_NAME), for one.
	SecretNames []string
}

// Reporter sends error reports. A nil *Reporter sends none (SENTRY_DSN
// unset), so callers need no check.
type Reporter struct {
	client  *sentry.Client
	release string
	scrub   *scrubber
}

// Info says where an error happened.
type Info struct {
	Kind   string // "request" or "task"
	ID     string // the request ID or the task ID
	Where  string // the route ("GET /user/{id}") or the task type
	UserID string // the signed-in user's ID, "" for none
}

// unknownRelease stands in for an unknown release in the client's
// options: left empty, the SDK guesses one, reading CI variables and
// running git in the working directory. BeforeSend puts the real one
// (maybe "") on each event.
const unknownRelease = "unknown"

// New returns the Reporter for o, or nil when o.DSN is empty. A DSN the
// SDK refuses is an error that does not quote it (it is a secret).
func New(o Options) (*Reporter, error) {
	if o.DSN == "" {
		return nil, nil
	}
	r := &Reporter{release: o.Release, scrub: newScrubber(o.Scrub, o.SecretNames)}
	release := o.Release
	if release == "" {
		release = unknownRelease
	}
	client, err := sentry.NewClient(sentry.ClientOptions{
		Dsn:         o.DSN,
		Environment: o.Environment,
		Release:     release,
		BeforeSend:  r.beforeSend,
		// Breadcrumbs would collect what happened before the error,
		// from wherever the SDK is told: nothing here records any.
		MaxBreadcrumbs: -1,
		// Nothing about the person is sent but the ID set below.
		SendDefaultPII: false,
		Integrations:   withoutSourceContext,
	})
	if err != nil {
		return nil, errors.New("SENTRY_DSN: the error tracker's SDK refused it (expected https://PUBLIC_KEY@host/PROJECT_ID)")
	}
	r.client = client
	return r, nil
}

// withoutSourceContext drops the integration that reads the source files
// of each stack frame and sends lines around it: a line may hold a
// literal credential, and the code is the operators' already.
func withoutSourceContext(in []sentry.Integration) []sentry.Integration {
	out := in[:0]
	for _, i := range in {
		if i.Name() != "ContextifyFrames" {
			out = append(out, i)
		}
	}
	return out
}

// Error reports err, an error a request or task ended with.
func (r *Reporter) Error(ctx context.Context, err error, info Info) {
	if r == nil || err == nil {
		return
	}
	r.capture(ctx, r.client.EventFromException(err, sentry.LevelError), info)
}

// Panic reports v, a value recovered from a panic. Call it in the
// deferred function that recovered, so that the stack still holds the
// frames that panicked.
func (r *Reporter) Panic(ctx context.Context, v any, info Info) {
	if r == nil || v == nil {
		return
	}
	err, isError := v.(error)
	if !isError {
		err = errors.New(fmt.Sprint(v))
	}
	event := r.client.EventFromException(err, sentry.LevelFatal)
	if n := len(event.Exception); n > 0 {
		top := &event.Exception[n-1]
		if !isError {
			top.Type = "panic"
		}
		if top.Mechanism == nil {
			top.Mechanism = &sentry.Mechanism{Type: "generic"}
		}
		top.Mechanism.SetUnhandled()
	}
	r.capture(ctx, event, info)
}

// capture sends event on a hub and scope of its own: reports made at the
// same time, by requests or tests running in parallel, share nothing.
func (r *Reporter) capture(ctx context.Context, event *sentry.Event, info Info) {
	trimOwnFrames(event)
	scope := sentry.NewScope()
	scope.SetTag("kind", info.Kind)
	idTag, whereTag := "request_id", "route"
	if info.Kind == "task" {
		idTag, whereTag = "task_id", "task_type"
	}
	if info.ID != "" {
		scope.SetTag(idTag, info.ID)
	}
	if info.Where != "" {
		scope.SetTag(whereTag, info.Where)
		event.Transaction = info.Where
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() && sc.IsSampled() {
		// The trace the logs and the collector show: the tracker
		// links the report to it (its trace context and envelope).
		scope.SetPropagationContext(sentry.PropagationContext{TraceID: sentry.TraceID(sc.TraceID()), SpanID: sentry.SpanID(sc.SpanID())})
		scope.SetTag("trace_id", telemetry.TraceID(ctx))
	}
	if info.UserID != "" {
		scope.SetUser(sentry.User{ID: info.UserID})
	}
	sentry.NewHub(r.client, scope).CaptureEvent(event)
}

// ownPackage is this package's import path, whose frames (the report
// being made) are not part of the error's stack.
const ownPackage = "github.com/launchkit/launchkit/internal/errreport"

// trimOwnFrames drops this package's frames from the innermost end of
// each stack (Sentry lists frames outermost first).
func trimOwnFrames(event *sentry.Event) {
	for i := range event.Exception {
		st := event.Exception[i].Stacktrace
		if st == nil {
			continue
		}
		n := len(st.Frames)
		for n > 0 && st.Frames[n-1].Module == ownPackage {
			n--
		}
		st.Frames = st.Frames[:n]
	}
}

// beforeSend is the last look at every event: the release, and the
// scrubbing of whatever could hold a secret.
func (r *Reporter) beforeSend(event *sentry.Event, _ *sentry.EventHint) *sentry.Event {
	event.Release = r.release
	r.scrub.event(event)
	return event
}

// closeTimeout bounds Close: reports still queued after it are lost
// rather than hold up the exit (a deploy waits on it).
const closeTimeout = 5 * time.Second

// Close sends the reports still queued, waiting at most closeTimeout,
// and stops the client. The process calls it once, at exit.
func (r *Reporter) Close() {
	r.CloseWithin(closeTimeout)
}

// CloseWithin is Close with another bound.
func (r *Reporter) CloseWithin(timeout time.Duration) bool {
	if r == nil {
		return true
	}
	done := make(chan bool, 1)
	go func() {
		flushed := r.client.Flush(timeout)
		r.client.Close()
		done <- flushed
	}()
	select {
	case flushed := <-done:
		return flushed
	case <-time.After(timeout):
		return false
	}
}

// Flush waits, at most timeout, until the reports made so far are sent,
// and says whether they were.
func (r *Reporter) Flush(timeout time.Duration) bool {
	if r == nil {
		return true
	}
	return r.client.Flush(timeout)
}
