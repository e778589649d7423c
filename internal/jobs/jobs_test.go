package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	netmail "net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/launchkit/launchkit/internal/jobs"
	"github.com/launchkit/launchkit/internal/mail"
	"github.com/launchkit/launchkit/internal/metrics"
	"github.com/launchkit/launchkit/internal/redisconn"
	"github.com/launchkit/launchkit/internal/session"
	"github.com/launchkit/launchkit/internal/testenv"
	"github.com/launchkit/launchkit/internal/users"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// redisBackends are the Redis servers the queue is tested on: the embedded
// one always, the real one when TEST_REDIS_URL is set.
var redisBackends = []struct {
	name string
	url  func(t *testing.T) string
}{
	{"embedded", func(t *testing.T) string {
		e, err := redisconn.StartEmbedded()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(e.Close)
		return e.URL()
	}},
	{"redis", func(t *testing.T) string { return testenv.RedisURL(t) }},
}

func openRedis(t *testing.T, url string) *redis.Client {
	t.Helper()
	rdb, err := redisconn.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

func emlFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestMailSendTaskDeliversThroughAWorker(t *testing.T) {
	for _, backend := range redisBackends {
		t.Run(backend.name, func(t *testing.T) {
			rdb := openRedis(t, backend.url(t))
			outbox := t.TempDir()
			h := &jobs.Handlers{Mailer: &mail.Outbox{Dir: outbox, Sender: "Launchkit <noreply@example.com>"}, Logger: discard}
			w, err := jobs.NewWorker(rdb, h, jobs.WorkerOptions{Concurrency: 2, ShutdownTimeout: 5 * time.Second, Logger: discard})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(w.Shutdown)

			msg := mail.Message{
				To:      []string{"ada@example.com"},
				Subject: "Welcome to Zoë's ☃ shop",
				Text:    "Hello Ada, your account is ready.",
				HTML:    "<p>Hello Ada, your account is <b>ready</b>.</p>",
			}
			if err := jobs.NewClient(rdb).EnqueueMail(context.Background(), msg); err != nil {
				t.Fatal(err)
			}
			testenv.WaitUntil(t, "an .eml in the outbox", 15*time.Second, 50*time.Millisecond, func() bool { return len(emlFiles(t, outbox)) == 1 })

			f, err := os.Open(emlFiles(t, outbox)[0])
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			parsed, err := netmail.ReadMessage(f)
			if err != nil {
				t.Fatalf("outbox file is not a mail message: %v", err)
			}
			subject, err := new(mime.WordDecoder).DecodeHeader(parsed.Header.Get("Subject"))
			if err != nil {
				t.Fatal(err)
			}
			if subject != msg.Subject {
				t.Errorf("Subject = %q, want %q", subject, msg.Subject)
			}
			if to := parsed.Header.Get("To"); !strings.Contains(to, "ada@example.com") {
				t.Errorf("To = %q", to)
			}
			if from := parsed.Header.Get("From"); !strings.Contains(from, "noreply@example.com") {
				t.Errorf("From = %q", from)
			}
			if ct := parsed.Header.Get("Content-Type"); !strings.HasPrefix(ct, "multipart/alternative") {
				t.Errorf("Content-Type = %q, want multipart/alternative", ct)
			}
			body, _ := io.ReadAll(parsed.Body)
			for _, want := range []string{"text/plain", "text/html", "Hello Ada", "<b>ready</b>"} {
				if !strings.Contains(string(body), want) {
					t.Errorf("body lacks %q:\n%s", want, body)
				}
			}
		})
	}
}

func TestEnqueueRefusesAnUnsendableMessage(t *testing.T) {
	rdb := openRedis(t, redisBackends[0].url(t))
	err := jobs.NewClient(rdb).EnqueueMail(context.Background(), mail.Message{Subject: "no recipient", Text: "x"})
	if err == nil || !strings.Contains(err.Error(), "no recipient") {
		t.Fatalf("EnqueueMail without recipient: err = %v", err)
	}
}

func TestMailSendWithABadPayloadIsNotRetried(t *testing.T) {
	h := &jobs.Handlers{Mailer: &mail.Outbox{Dir: t.TempDir(), Sender: "a@example.com"}, Logger: discard}
	for _, payload := range []string{"{", `{"to":[],"subject":"x","text":"y"}`, `[1,2]`} {
		err := h.Mux().ProcessTask(context.Background(), asynq.NewTask(jobs.TypeMailSend, []byte(payload)))
		if !errors.Is(err, asynq.SkipRetry) {
			t.Errorf("payload %s: err = %v, want SkipRetry", payload, err)
		}
	}
}

type failingMailer struct{ err error }

func (f failingMailer) Send(context.Context, mail.Message) error { return f.err }

func TestMailSendFailureIsRetried(t *testing.T) {
	h := &jobs.Handlers{Mailer: failingMailer{errors.New("smtp down")}, Logger: discard}
	task, err := jobs.NewMailSendTask(mail.Message{To: []string{"a@example.com"}, Subject: "s", Text: "t"})
	if err != nil {
		t.Fatal(err)
	}
	err = h.Mux().ProcessTask(context.Background(), task)
	if err == nil || errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("a delivery failure must be returned for retry, got %v", err)
	}
}

func TestSessionsPurgeTaskDeletesExpiredSessions(t *testing.T) {
	d := testenv.MigratedDB(t, testenv.SQLiteURL(t))
	if _, err := d.SQL.Exec(`INSERT INTO sessions (token, data, expiry) VALUES ('old', x'00', julianday('now') - 1), ('live', x'00', julianday('now') + 1)`); err != nil {
		t.Fatal(err)
	}
	h := &jobs.Handlers{Sessions: session.NewPurger(d), Logger: discard}
	if err := h.Mux().ProcessTask(context.Background(), asynq.NewTask(jobs.TypeSessionsPurge, nil)); err != nil {
		t.Fatal(err)
	}
	var tokens []string
	if err := d.Gorm.Raw("SELECT token FROM sessions").Scan(&tokens).Error; err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tokens, []string{"live"}) {
		t.Errorf("sessions left = %v, want [live]", tokens)
	}
}

// slowMailer signals when a send starts and takes a while to finish.
type slowMailer struct {
	started chan struct{}
	sent    chan mail.Message
}

func (s *slowMailer) Send(_ context.Context, m mail.Message) error {
	close(s.started)
	time.Sleep(time.Second)
	s.sent <- m
	return nil
}

func TestShutdownLetsARunningTaskFinish(t *testing.T) {
	rdb := openRedis(t, redisBackends[0].url(t))
	m := &slowMailer{started: make(chan struct{}), sent: make(chan mail.Message, 1)}
	w, err := jobs.NewWorker(rdb, &jobs.Handlers{Mailer: m, Logger: discard}, jobs.WorkerOptions{Concurrency: 1, ShutdownTimeout: 10 * time.Second, Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	if err := jobs.NewClient(rdb).EnqueueMail(context.Background(), mail.Message{To: []string{"a@example.com"}, Subject: "s", Text: "t"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-m.started:
	case <-time.After(15 * time.Second):
		t.Fatal("the task never started")
	}
	w.Shutdown()
	select {
	case <-m.sent:
	default:
		t.Fatal("Shutdown returned before the running task finished")
	}
}

func TestTaskRunsAreCountedInTheMetrics(t *testing.T) {
	m, err := metrics.New()
	if err != nil {
		t.Fatal(err)
	}
	h := &jobs.Handlers{Mailer: failingMailer{errors.New("smtp down")}, Logger: discard, Metrics: m}
	task, err := jobs.NewMailSendTask(mail.Message{To: []string{"a@example.com"}, Subject: "s", Text: "t"})
	if err != nil {
		t.Fatal(err)
	}
	_ = h.Mux().ProcessTask(context.Background(), task)
	_ = h.Mux().ProcessTask(context.Background(), task)

	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got float64
	for _, f := range families {
		if f.GetName() != "launchkit_tasks_processed_total" {
			continue
		}
		for _, metric := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range metric.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["type"] == jobs.TypeMailSend && labels["result"] == "error" {
				got = metric.GetCounter().GetValue()
			}
		}
	}
	if got != 2 {
		t.Errorf("launchkit_tasks_processed_total{type=mail:send,result=error} = %v, want 2", got)
	}
}

// flakyMailer fails its first failures sends, then passes the rest on.
type flakyMailer struct {
	next     mail.Mailer
	mu       sync.Mutex
	failures int
	sent     int
}

func (f *flakyMailer) Send(ctx context.Context, m mail.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failures > 0 {
		f.failures--
		return errors.New("mail server unavailable")
	}
	f.sent++
	return f.next.Send(ctx, m)
}

// TestAccountMailIsChargedOncePerTask: a reset mail the mail server
// refused twice goes out on its third run, charged to the address's
// budget once: of six reset requests, five mails arrive (the budget), not
// three.
func TestAccountMailIsChargedOncePerTask(t *testing.T) {
	a, _ := testenv.NewApp(t, nil)
	ctx := t.Context()
	if _, err := a.Users.CreateConfirmed(ctx, "ada@example.com", "the right password"); err != nil {
		t.Fatal(err)
	}
	h := a.Handlers()
	mailer := &flakyMailer{next: h.Mailer, failures: 2}
	h.Mailer = mailer
	for range 6 {
		if err := a.Users.RequestPasswordReset(ctx, "ada@example.com"); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Outbox.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	srv := asynq.NewServerFromRedisClient(a.Redis, asynq.Config{
		Concurrency: 1, Queues: map[string]int{jobs.QueueCritical: 1}, LogLevel: asynq.FatalLevel,
		RetryDelayFunc:           func(int, error, *asynq.Task) time.Duration { return time.Millisecond },
		DelayedTaskCheckInterval: 20 * time.Millisecond,
	})
	if err := srv.Start(h.Mux()); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	inspector := asynq.NewInspectorFromRedisClient(a.Redis)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		q, err := inspector.GetQueueInfo(jobs.QueueCritical)
		if err == nil && q.Pending+q.Active+q.Retry+q.Scheduled == 0 && q.Completed+q.Processed > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the queue did not drain: %+v, %v", q, err)
		}
	}
	mailer.mu.Lock()
	defer mailer.mu.Unlock()
	if mailer.failures != 0 || mailer.sent != 5 {
		t.Errorf("%d refusals left, %d mails sent; want the 2 refusals used and the budget's 5 sent", mailer.failures, mailer.sent)
	}
}

// TestEveryTaskIsRegisteredOnce: each task of jobs.Tasks has its own type
// name, options and a handler the worker routes to; Enqueue queues a
// listed task with its options and refuses an unlisted one.
func TestEveryTaskIsRegisteredOnce(t *testing.T) {
	rdb := openRedis(t, redisBackends[0].url(t))
	seen := map[string]bool{}
	for _, task := range jobs.Tasks {
		if task.Type == "" || seen[task.Type] || task.Handle == nil || len(task.Options) == 0 {
			t.Errorf("task %q: want a unique type, a handler and queue options", task.Type)
		}
		seen[task.Type] = true
		if _, err := jobs.PeriodicOptions(task, time.Now()); task.Schedule != "" && err != nil {
			t.Errorf("task %s: %v", task.Type, err)
		}
		if len(jobs.TaskOptions(task.Type)) != len(task.Options) {
			t.Errorf("TaskOptions(%s) are not the task's own", task.Type)
		}
	}
	// The mux answers every listed type (a bad payload is refused without
	// retry, by the task's own handler), and no other.
	mux := (&jobs.Handlers{Mailer: failingMailer{}, Logger: discard}).Mux()
	for _, task := range jobs.Tasks {
		if task.Schedule != "" {
			continue // periodic tasks take no payload, and may need a database
		}
		err := mux.ProcessTask(t.Context(), asynq.NewTask(task.Type, []byte("{not json")))
		if !errors.Is(err, asynq.SkipRetry) {
			t.Errorf("%s with an unreadable payload: %v, want a refusal without retry", task.Type, err)
		}
	}
	if err := mux.ProcessTask(t.Context(), asynq.NewTask("nobody:handles", nil)); err == nil {
		t.Error("a task type nobody registered was handled")
	}

	c := jobs.NewClient(rdb)
	if err := c.Enqueue(t.Context(), "nobody:handles", struct{}{}); err == nil {
		t.Error("Enqueue of an unlisted task type succeeded")
	}
	if err := c.Enqueue(t.Context(), jobs.TypeMailSend, mail.Message{To: []string{"a@example.com"}, Subject: "s", Text: "t"}); err != nil {
		t.Fatal(err)
	}
	tasks, err := asynq.NewInspectorFromRedisClient(rdb).ListPendingTasks(jobs.QueueCritical)
	if err != nil || len(tasks) != 1 || tasks[0].Type != jobs.TypeMailSend || tasks[0].MaxRetry != 10 {
		t.Errorf("after Enqueue of mail:send, critical holds %+v (%v), want the task with 10 retries", tasks, err)
	}
}

// TestSeveralSchedulersRunAPeriodOnce: what two schedulers do when they
// fire in the same period — each enqueues the task with PeriodicOptions
// for that period — gives one run: the second enqueue is refused, also
// after the first run has finished (a lock that only lasted while the
// task was queued let a slower scheduler's enqueue through), and also
// after it failed for good. The next period's run is taken all the same.
func TestSeveralSchedulersRunAPeriodOnce(t *testing.T) {
	for _, backend := range redisBackends {
		t.Run(backend.name, func(t *testing.T) {
			rdb := openRedis(t, backend.url(t))
			task := jobs.Task{Type: "test:periodic", Options: []asynq.Option{asynq.Queue(jobs.QueueLow), asynq.MaxRetry(0)}, Schedule: "@hourly"}
			client := asynq.NewClientFromRedisClient(rdb)
			enqueue := func(period time.Time) (*asynq.TaskInfo, error) {
				t.Helper()
				opts, err := jobs.PeriodicOptions(task, period)
				if err != nil {
					t.Fatal(err)
				}
				return client.EnqueueContext(t.Context(), asynq.NewTask(task.Type, nil), opts...)
			}
			ten := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)
			eleven, noon := ten.Add(time.Hour), ten.Add(2*time.Hour)
			mux := asynq.NewServeMux()
			mux.HandleFunc(task.Type, func(ctx context.Context, _ *asynq.Task) error {
				if id, _ := asynq.GetTaskID(ctx); strings.HasSuffix(id, eleven.Format(time.RFC3339)) {
					return errors.New("the 11:00 run fails")
				}
				return nil
			})
			srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{Concurrency: 1, Queues: map[string]int{jobs.QueueLow: 1}, LogLevel: asynq.FatalLevel})
			if err := srv.Start(mux); err != nil {
				t.Fatal(err)
			}
			defer srv.Shutdown()
			inspector := asynq.NewInspectorFromRedisClient(rdb)
			runs := func(period time.Time, state asynq.TaskState) {
				t.Helper()
				info, err := enqueue(period)
				if err != nil {
					t.Fatalf("the first enqueue of the %s run: %v", period.Format(time.Kitchen), err)
				}
				testenv.WaitUntil(t, "the "+period.Format(time.Kitchen)+" run to end "+state.String(), 10*time.Second, 50*time.Millisecond, func() bool {
					info, err = inspector.GetTaskInfo(jobs.QueueLow, info.ID)
					return err == nil && info.State == state
				})
				if state == asynq.TaskStateCompleted && info.Retention != time.Hour {
					t.Errorf("the finished run is kept %s, want one period (1h)", info.Retention)
				}
				// The second scheduler fires in the same period.
				if _, err := enqueue(period); !errors.Is(err, asynq.ErrTaskIDConflict) {
					t.Errorf("a second enqueue of the %s run after it ended %s: %v, want a task-ID conflict", period.Format(time.Kitchen), state, err)
				}
			}
			runs(ten, asynq.TaskStateCompleted)
			runs(eleven, asynq.TaskStateArchived)
			runs(noon, asynq.TaskStateCompleted)
		})
	}
}

// TestJobsFollowASentinelFailover: behind Sentinel (a primary, a replica,
// three Sentinels on loopback), the primary is killed; the same client,
// without a restart, reaches the promoted replica, and a task enqueued
// before the kill (and acknowledged by the replica: Redis replicates
// asynchronously, so only WAIT makes a write survive a failover) and one
// enqueued after both run.
func TestJobsFollowASentinelFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Sentinel set and waits out a failover: not in -short")
	}
	url, killPrimary := testenv.Sentinels(t)
	ctx := t.Context()
	rdb, err := redisconn.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	client := asynq.NewClientFromRedisClient(rdb)
	if _, err := client.EnqueueContext(ctx, asynq.NewTask("test:failover", []byte("before")), asynq.Queue(jobs.QueueDefault)); err != nil {
		t.Fatal(err)
	}
	if n, err := rdb.Do(ctx, "WAIT", 1, 5000).Int(); err != nil || n != 1 {
		t.Fatalf("WAIT = %d, %v: the replica did not acknowledge the task", n, err)
	}

	killPrimary()
	testenv.WaitUntil(t, "the client to reach the promoted replica", 60*time.Second, 50*time.Millisecond, func() bool {
		info, err := rdb.Info(ctx, "replication").Result()
		return err == nil && strings.Contains(info, "role:master")
	})
	if _, err := client.EnqueueContext(ctx, asynq.NewTask("test:failover", []byte("after")), asynq.Queue(jobs.QueueDefault)); err != nil {
		t.Fatal(err)
	}
	ran := make(chan string, 4)
	mux := asynq.NewServeMux()
	mux.HandleFunc("test:failover", func(_ context.Context, task *asynq.Task) error {
		ran <- string(task.Payload())
		return nil
	})
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{Concurrency: 1, Queues: map[string]int{jobs.QueueDefault: 1}, LogLevel: asynq.FatalLevel})
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	var got []string
	for len(got) < 2 {
		select {
		case p := <-ran:
			got = append(got, p)
		case <-time.After(30 * time.Second):
			t.Fatalf("ran %v after the failover, want the tasks from before and after it", got)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"after", "before"}) {
		t.Errorf("ran %v, want after and before once each", got)
	}
}

// TestATaskThatFailsForGoodIsReported: a task out of retries reaches
// OnTaskFailed (which mails the admins in the app) with its type and ID;
// a task that will be retried does not.
func TestATaskThatFailsForGoodIsReported(t *testing.T) {
	rdb := openRedis(t, redisBackends[0].url(t))
	failed := make(chan string, 4)
	h := &jobs.Handlers{Mailer: failingMailer{errors.New("smtp down")}, Logger: discard}
	w, err := jobs.NewWorker(rdb, h, jobs.WorkerOptions{
		Concurrency: 1, ShutdownTimeout: time.Second, Logger: discard,
		OnTaskFailed: func(_ context.Context, taskType, taskID string, err error) {
			failed <- taskType + " " + taskID + ": " + err.Error()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Shutdown)
	client := asynq.NewClientFromRedisClient(rdb)
	msg := mail.Message{To: []string{"a@example.com"}, Subject: "s", Text: "t"}
	payload, _ := json.Marshal(msg)
	retried, err := client.Enqueue(asynq.NewTask(jobs.TypeMailSend, payload), asynq.Queue(jobs.QueueCritical), asynq.MaxRetry(5), asynq.TaskID("will-retry"))
	if err != nil {
		t.Fatal(err)
	}
	final, err := client.Enqueue(asynq.NewTask(jobs.TypeMailSend, payload), asynq.Queue(jobs.QueueCritical), asynq.MaxRetry(0), asynq.TaskID("out-of-retries"))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-failed:
		if got != "mail:send "+final.ID+": smtp down" {
			t.Errorf("reported %q, want the task out of retries", got)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a task out of retries was not reported")
	}
	inspector := asynq.NewInspectorFromRedisClient(rdb)
	testenv.WaitUntil(t, "the other task's first failure", 20*time.Second, 50*time.Millisecond, func() bool {
		info, err := inspector.GetTaskInfo(jobs.QueueCritical, retried.ID)
		return err == nil && info.Retried >= 1
	})
	select {
	case got := <-failed:
		t.Errorf("a task that will be retried was reported: %q", got)
	default:
	}
}

// TestSessionsPurgeTaskDeletesExpiredPasskeyCeremonies: the hourly purge
// also deletes the passkey ceremonies never finished, once expired.
func TestSessionsPurgeTaskDeletesExpiredPasskeyCeremonies(t *testing.T) {
	d := testenv.MigratedDB(t, testenv.SQLiteURL(t))
	svc := users.NewService(d)
	ctx := context.Background()
	old, err := svc.SaveChallenge(ctx, users.ChallengeSignIn, 0, &webauthn.SessionData{Challenge: "old"}, time.Now().Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	live, err := svc.SaveChallenge(ctx, users.ChallengeSignIn, 0, &webauthn.SessionData{Challenge: "live"}, time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	h := &jobs.Handlers{Sessions: session.NewPurger(d), Users: svc, Logger: discard}
	if err := h.Mux().ProcessTask(ctx, asynq.NewTask(jobs.TypeSessionsPurge, nil)); err != nil {
		t.Fatal(err)
	}
	var ids []string
	if err := d.Gorm.Raw("SELECT id FROM webauthn_challenges").Scan(&ids).Error; err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids, []string{live}) || old == live {
		t.Errorf("ceremonies left = %v, want only %s", ids, live)
	}
}
