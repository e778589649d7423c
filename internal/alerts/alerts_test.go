package alerts_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"

	"github.com/launchkit/launchkit/internal/alerts"
	"github.com/launchkit/launchkit/internal/jobs"
	"github.com/launchkit/launchkit/internal/mail"
	"github.com/launchkit/launchkit/internal/outbox"
	"github.com/launchkit/launchkit/internal/ratelimit"
	"github.com/launchkit/launchkit/internal/testenv"
)

// newMailer is a Mailer on a new SQLite outbox and an embedded Redis,
// with the Scrub and Window given, and a function listing the mails it
// has queued so far.
func newMailer(t *testing.T, scrub func(string) string, window time.Duration) (*alerts.Mailer, func() []mail.Message) {
	t.Helper()
	d := testenv.MigratedDB(t, testenv.SQLiteURL(t))
	rdb := testenv.RedisClient(t, "redis://"+miniredis.RunT(t).Addr())
	logger := slog.New(slog.DiscardHandler)
	m := &alerts.Mailer{
		Admins: []string{"ops@example.com"}, AppName: "Launchkit", Scrub: scrub,
		DB: d.Gorm, Relay: outbox.NewRelay(d.Gorm, rdb, jobs.TaskOptions, logger),
		Limits: ratelimit.New(nil, logger), Logger: logger, Window: window,
	}
	mails := func() []mail.Message {
		t.Helper()
		tasks, err := asynq.NewInspectorFromRedisClient(rdb).ListPendingTasks(jobs.QueueCritical)
		if err != nil {
			t.Fatal(err)
		}
		var out []mail.Message
		for _, task := range tasks {
			var msg mail.Message
			if err := json.Unmarshal(task.Payload, &msg); err != nil || task.Type != alerts.TaskMail {
				t.Fatalf("queued %s %s: %v", task.Type, task.Payload, err)
			}
			out = append(out, msg)
		}
		return out
	}
	return m, mails
}

// TestIdenticalErrorsAreMailedOncePerWindow: the first error is mailed
// (through the outbox to the alert:mail queue), identical ones within the
// window are only counted, and the next mail after it says how many there
// were; a different error is mailed at once. Secrets never reach a mail.
func TestIdenticalErrorsAreMailedOncePerWindow(t *testing.T) {
	m, mails := newMailer(t, func(s string) string { return strings.ReplaceAll(s, "hunter2", "[redacted]") }, 300*time.Millisecond)
	boom := alerts.Alert{Kind: "request", ID: "req-1", Where: "GET /things/{id}", Err: "database said no (password hunter2)"}
	for range 3 {
		m.Report(t.Context(), boom)
	}
	got := mails()
	if len(got) != 1 {
		t.Fatalf("3 identical errors made %d mails, want 1", len(got))
	}
	if got[0].To[0] != "ops@example.com" || !strings.Contains(got[0].Subject, "GET /things/{id}") || !strings.Contains(got[0].Text, "req-1") {
		t.Errorf("the mail lacks its recipient, route or request ID: %+v", got[0])
	}
	if strings.Contains(got[0].Subject+got[0].Text, "hunter2") {
		t.Error("a secret reached the mail")
	}
	m.Report(t.Context(), alerts.Alert{Kind: "task", ID: "task-9", Where: "mail:send", Err: "smtp down"})
	if got := mails(); len(got) != 2 || !strings.Contains(got[1].Text, "task-9") {
		t.Fatalf("a different error was not mailed at once: %d mails", len(got))
	}
	time.Sleep(350 * time.Millisecond) // the window passing is the behaviour under test
	m.Report(t.Context(), boom)
	got = mails()
	if len(got) != 3 || !strings.Contains(got[2].Text, "happened 2 more time(s)") {
		t.Fatalf("after the window: %d mails, the last saying %q; want a third counting the 2 in between", len(got), got[len(got)-1].Text)
	}
}

// TestErrorsThatDifferOnlyInNumbersAreOne: the same timeout from another
// port is the same error; and one place cannot send more than 5 mails a
// window however different its errors.
func TestErrorsThatDifferOnlyInNumbersAreOne(t *testing.T) {
	m, mails := newMailer(t, func(s string) string { return s }, 0)
	queued := func() int { return len(mails()) }
	for port := range 5 {
		m.Report(t.Context(), alerts.Alert{Kind: "request", Where: "GET /", Err: fmt.Sprintf("read tcp 10.0.0.2:%d->10.0.0.9:5432: i/o timeout", 50000+port)})
	}
	if n := queued(); n != 1 {
		t.Errorf("5 timeouts from different ports made %d mails, want 1", n)
	}
	for _, what := range []string{"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta"} {
		m.Report(t.Context(), alerts.Alert{Kind: "request", Where: "GET /", Err: "failed: " + what})
	}
	if n := queued(); n != 5 {
		t.Errorf("one place made %d mails in a window, want the cap of 5", n)
	}
}

// TestANilMailerSendsNothing: with EMAIL_ERRORS off there is no Mailer,
// and reporting to it is a no-op.
func TestANilMailerSendsNothing(t *testing.T) {
	var m *alerts.Mailer
	m.Report(t.Context(), alerts.Alert{Kind: "request", Err: "x"})
}
