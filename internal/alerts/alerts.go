// Package alerts mails the admins about errors that need a person: a
// request answered with a 500 or a panic, a background task that ran out
// of retries (ADMINS, EMAIL_ERRORS). The mail goes through the outbox
// and the mail:send task like any other, carries the request or task ID,
// the route or task type, the time and the error — scrubbed of every
// secret, as the logs are — and identical errors are mailed at most once
// a Window, the next mail counting those in between, so an outage cannot
// flood an inbox or the queue.
//
// The mail is a task of its own, TaskMail, which this package names and
// writes to the outbox; internal/jobs handles it. Like every domain
// package, alerts does not import jobs (see the jobs package comment).
package alerts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode"

	"gorm.io/gorm"

	"github.com/launchkit/launchkit/internal/mail"
	"github.com/launchkit/launchkit/internal/outbox"
	"github.com/launchkit/launchkit/internal/ratelimit"
)

// TaskMail is the task that sends an alert: its payload is the
// mail.Message. It is a mail:send of its own type, so that its failing
// for good does not set off another alert (and that one another), and
// with fewer retries (internal/jobs/alert_mail.go) — an alert that cannot
// go out within minutes is worth little later.
const TaskMail = "alert:mail"

// Window is how often at most one error is mailed about: the same kind,
// place and message count as one.
const Window = 10 * time.Minute

// Alert is one error worth an admin's attention.
type Alert struct {
	Kind  string // "request" or "task"
	ID    string // the request ID or the task ID
	Where string // the route ("GET /user/{id}") or the task type
	Err   string
}

// Mailer sends the alerts. A nil *Mailer sends none (EMAIL_ERRORS off or
// no ADMINS).
type Mailer struct {
	Admins  []string
	AppName string
	Scrub   func(string) string // hides secrets (config.Config.Scrub)
	DB      *gorm.DB            // the outbox's
	Relay   *outbox.Relay
	Limits  *ratelimit.Limiter // shares the window between processes
	Logger  *slog.Logger
	Window  time.Duration // 0: Window

	mu         sync.Mutex
	suppressed map[string]int // by fingerprint, since the last mail
}

// Report mails a about the error unless the same error was mailed about
// within the window (then it is counted for the next mail). Failing to
// mail is logged, never returned: the error itself was already logged.
func (m *Mailer) Report(ctx context.Context, a Alert) {
	if m == nil || len(m.Admins) == 0 {
		return
	}
	// An alert outlives the request that failed.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	msg := m.Scrub(a.Err)
	// Numbers (ports, IDs, addresses) vary between errors that are the
	// same error: they do not count.
	place := hashed(a.Kind + "\x00" + a.Where)
	fp := hashed(place + "\x00" + numbers.ReplaceAllString(firstLine(msg), "#"))
	window := m.Window
	if window <= 0 {
		window = Window
	}
	// One mail per error a window, and at most placeCap per place,
	// whatever the errors say.
	allowed := m.Limits.Take(ctx, "alert:"+fp, ratelimit.Limit{Burst: 1, Period: window}).Allowed &&
		m.Limits.Take(ctx, "alert:place:"+place, ratelimit.Limit{Burst: placeCap, Period: window}).Allowed
	m.mu.Lock()
	if m.suppressed == nil {
		m.suppressed = map[string]int{}
	}
	if !allowed {
		if len(m.suppressed) < 10_000 {
			m.suppressed[fp]++
		}
		m.mu.Unlock()
		return
	}
	more := m.suppressed[fp]
	delete(m.suppressed, fp)
	m.mu.Unlock()

	idName := map[string]string{"request": "Request ID", "task": "Task ID"}[a.Kind]
	// Text only, unlike account mail (internal/mail.Templates): it goes
	// to the site's admins, who want the error, its place and its ID to
	// copy into a log search, not a styled page.
	var b strings.Builder
	fmt.Fprintf(&b, "%s had an error that needs a look.\n\n", m.AppName)
	fmt.Fprintf(&b, "Time:  %s\n", time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "Where: %s\n", m.Scrub(a.Where))
	if a.ID != "" {
		fmt.Fprintf(&b, "%s: %s\n", idName, a.ID)
	}
	fmt.Fprintf(&b, "\nError:\n%s\n", msg)
	if more > 0 {
		fmt.Fprintf(&b, "\nThe same error happened %d more time(s) since the last mail about it.\n", more)
	}
	fmt.Fprintf(&b, "\nIdentical errors are mailed at most once every %s; the logs have every one (search for the ID).\n", window)
	m.send(ctx, mail.Message{
		To:      m.Admins,
		Subject: fmt.Sprintf("[%s] error in %s: %s", m.AppName, oneLine(m.Scrub(a.Where), 60), oneLine(msg, 80)),
		Text:    b.String(),
	})
}

func (m *Mailer) send(ctx context.Context, msg mail.Message) {
	payload, err := json.Marshal(msg)
	if err == nil {
		err = outbox.Add(m.DB.WithContext(ctx), TaskMail, payload)
	}
	if err != nil {
		m.Logger.WarnContext(ctx, "alerts: could not write the error mail", "err", err)
		return
	}
	m.Relay.Send(ctx)
}

// placeCap is how many mails one place (a route, a task type) may cause a
// window, however different its errors.
const placeCap = 5

// numbers are runs of digits or hex digits (ports, IDs, addresses).
var numbers = regexp.MustCompile(`[0-9a-fA-F]*[0-9][0-9a-fA-F]*`)

func hashed(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:12])
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

// oneLine is s's first line without control characters, at most n
// characters: safe in a mail header.
func oneLine(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, firstLine(s))
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
