package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/launchkit/launchkit/internal/jobs"
	"github.com/launchkit/launchkit/internal/mail"
	"github.com/launchkit/launchkit/internal/testenv"
)

// customerMailDown fails every message but the admins': the SMTP server
// refuses one recipient's domain, say.
type customerMailDown struct{ next mail.Mailer }

func (m customerMailDown) Send(ctx context.Context, msg mail.Message) error {
	if len(msg.To) == 1 && msg.To[0] == "ops@example.com" {
		return m.next.Send(ctx, msg)
	}
	return errors.New("smtp: 550 mailbox unavailable")
}

// TestATaskOutOfRetriesIsReportedAndMailed: a task that fails for good is
// reported to the error tracker with its type, its ID and the trace its
// headers carried (the request that queued it), and in the same run the
// admins' error mail still goes out.
func TestATaskOutOfRetriesIsReportedAndMailed(t *testing.T) {
	t.Parallel()
	tracker := testenv.StartSentryServer(t)
	a, _ := testenv.NewApp(t, map[string]string{"SENTRY_DSN": tracker.DSN(), "EMAIL_ERRORS": "true", "ADMINS": "ops@example.com"})
	if a.Reports == nil {
		t.Fatal("SENTRY_DSN is set but there is no reporter")
	}
	a.Mailer = customerMailDown{next: a.Mailer}
	w, err := a.NewWorker()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Shutdown)

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	payload, _ := json.Marshal(mail.Message{To: []string{"ada@example.com"}, Subject: "Welcome", Text: "hi"})
	task := asynq.NewTaskWithHeaders(jobs.TypeMailSend, payload, map[string]string{"traceparent": "00-" + traceID + "-00f067aa0ba902b7-01"})
	info, err := asynq.NewClientFromRedisClient(a.Redis).Enqueue(task, asynq.Queue(jobs.QueueCritical), asynq.MaxRetry(0))
	if err != nil {
		t.Fatal(err)
	}

	e := tracker.WaitForEvents(t, 1, 20*time.Second)[0]
	for k, v := range map[string]string{"kind": "task", "task_type": jobs.TypeMailSend, "task_id": info.ID, "trace_id": traceID} {
		if e.Tags[k] != v {
			t.Errorf("tag %s = %q, want %q (tags %v)", k, e.Tags[k], v, e.Tags)
		}
	}
	if got := e.Contexts["trace"]["trace_id"]; got != traceID {
		t.Errorf("the report's trace context is %v, want the task's trace %s", got, traceID)
	}
	if e.Transaction != jobs.TypeMailSend || e.Environment != "test" || len(e.Exceptions) == 0 ||
		!strings.Contains(e.Exceptions[len(e.Exceptions)-1].Value, "550 mailbox unavailable") {
		t.Errorf("transaction %q environment %q exceptions %+v", e.Transaction, e.Environment, e.Exceptions)
	}

	testenv.WaitUntil(t, "the admins' error mail", 20*time.Second, 20*time.Millisecond, func() bool {
		files, _ := filepath.Glob(filepath.Join(a.Config.MailOutboxDir, "*.eml"))
		for _, f := range files {
			if m := testenv.ReadEML(t, f); strings.Contains(m.Subject, "error in "+jobs.TypeMailSend) && strings.Contains(m.Text, info.ID) {
				return true
			}
		}
		return false
	})
}

// TestNoSentryDSNNoReports: without SENTRY_DSN in the configuration
// there is no reporter — even with the SDK's own SENTRY_DSN variable
// set in the process's environment, which the SDK would otherwise read —
// and a task out of retries sends nothing.
func TestNoSentryDSNNoReports(t *testing.T) {
	tracker := testenv.StartSentryServer(t)
	t.Setenv("SENTRY_DSN", tracker.DSN()) // not a config layer here: testenv.NewApp reads its own map
	a, _ := testenv.NewApp(t, nil)
	if a.Reports != nil {
		t.Fatal("a reporter without SENTRY_DSN in the configuration")
	}
	a.Mailer = customerMailDown{next: a.Mailer}
	w, err := a.NewWorker()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(mail.Message{To: []string{"ada@example.com"}, Subject: "Welcome", Text: "hi"})
	info, err := asynq.NewClientFromRedisClient(a.Redis).Enqueue(asynq.NewTask(jobs.TypeMailSend, payload), asynq.Queue(jobs.QueueCritical), asynq.MaxRetry(0))
	if err != nil {
		t.Fatal(err)
	}
	inspector := asynq.NewInspectorFromRedisClient(a.Redis)
	testenv.WaitUntil(t, "the task to fail for good", 20*time.Second, 20*time.Millisecond, func() bool {
		ti, err := inspector.GetTaskInfo(jobs.QueueCritical, info.ID)
		return err == nil && ti.State == asynq.TaskStateArchived
	})
	w.Shutdown()
	if raw := tracker.Raw(); raw != "" {
		t.Errorf("the tracker got reports with SENTRY_DSN off:\n%s", raw)
	}
}
