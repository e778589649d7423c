package jobs_test

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/robfig/cron/v3"

	"github.com/launchkit/launchkit/internal/jobs"
	"github.com/launchkit/launchkit/internal/testenv"
)

// startWorker starts a worker running the scheduler for tasks alone, its
// log (debug and up) in logs; it stops when the test ends.
func startWorker(t *testing.T, url string, tasks []jobs.Task, logs *testenv.Buffer) {
	t.Helper()
	rdb := openRedis(t, url)
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	w, err := jobs.NewWorkerFor(rdb, &jobs.Handlers{Logger: logger}, jobs.WorkerOptions{
		Concurrency: 1, Scheduler: true, ShutdownTimeout: time.Second, Logger: logger,
	}, tasks)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Shutdown)
}

// TestAPeriodicTaskRunsAgainAfterAFailedRun: a periodic run that fails
// with no retry left goes to the archive, and the next periods still run
// (when every period's run had the same task ID, the archived run
// refused each later enqueue for as long as asynq keeps archived tasks,
// 90 days). The failure is logged as an error.
func TestAPeriodicTaskRunsAgainAfterAFailedRun(t *testing.T) {
	for _, backend := range redisBackends {
		t.Run(backend.name, func(t *testing.T) {
			url := backend.url(t)
			runs := make(chan string, 100)
			task := jobs.Task{
				Type: "test:periodic", Options: []asynq.Option{asynq.Queue(jobs.QueueLow), asynq.MaxRetry(0)},
				Schedule: "@every 1s",
				Handle: func(_ *jobs.Handlers, ctx context.Context, _ *asynq.Task) error {
					id, _ := asynq.GetTaskID(ctx)
					runs <- id
					return errors.New("the database is away")
				},
			}
			var logs testenv.Buffer
			startWorker(t, url, []jobs.Task{task}, &logs)

			inspector := asynq.NewInspectorFromRedisClient(openRedis(t, url))
			testenv.WaitUntil(t, "a failed run in the archive", 20*time.Second, 50*time.Millisecond, func() bool {
				archived, err := inspector.ListArchivedTasks(jobs.QueueLow)
				return err == nil && len(archived) > 0
			})
			seen := map[string]bool{}
			for len(seen) < 3 {
				select {
				case id := <-runs:
					if seen[id] {
						t.Fatalf("task %s ran twice", id)
					}
					seen[id] = true
				case <-time.After(20 * time.Second):
					t.Fatalf("after a failed run, the periodic task ran %d times in all; want the next periods to run:\n%s", len(seen), logs.String())
				}
			}
			failed := regexp.MustCompile(`level=ERROR msg="task failed" component=worker type=test:periodic task_id=\S+ retry=0 max_retry=0 err="the database is away"`)
			if !failed.MatchString(logs.String()) {
				t.Errorf("no error logged for the failed run:\n%s", logs.String())
			}
		})
	}
}

// TestTwoSchedulersQueueEachPeriodOnce: two workers run the scheduler on
// one Redis; each period of a task runs once, and the enqueue the second
// scheduler has refused is no warning or error, only a debug line.
func TestTwoSchedulersQueueEachPeriodOnce(t *testing.T) {
	for _, backend := range redisBackends {
		t.Run(backend.name, func(t *testing.T) {
			url := backend.url(t)
			runs := make(chan string, 100)
			task := jobs.Task{
				Type: "test:periodic", Options: []asynq.Option{asynq.Queue(jobs.QueueLow)}, Schedule: "@every 1s",
				Handle: func(_ *jobs.Handlers, ctx context.Context, _ *asynq.Task) error {
					id, _ := asynq.GetTaskID(ctx)
					runs <- id
					return nil
				},
			}
			var logs testenv.Buffer
			startWorker(t, url, []jobs.Task{task}, &logs)
			startWorker(t, url, []jobs.Task{task}, &logs)

			period := regexp.MustCompile(`^periodic:test:periodic:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)
			seen := map[string]bool{}
			for len(seen) < 3 {
				select {
				case id := <-runs:
					if seen[id] || !period.MatchString(id) {
						t.Fatalf("ran %s after %v: want each period's run once, its ID naming the period", id, seen)
					}
					seen[id] = true
				case <-time.After(20 * time.Second):
					t.Fatalf("ran %v; want three periods:\n%s", seen, logs.String())
				}
			}
			testenv.WaitUntil(t, "a scheduler to find a period queued by the other", 20*time.Second, 50*time.Millisecond, func() bool {
				return strings.Contains(logs.String(), `level=DEBUG msg="periodic task already queued for this period by another scheduler" component=scheduler type=test:periodic`)
			})
			if out := logs.String(); strings.Contains(out, "level=WARN") || strings.Contains(out, "level=ERROR") {
				t.Errorf("two schedulers logged warnings or errors:\n%s", out)
			}
		})
	}
}

// TestTheWorkerSchedulesEveryPeriodicTask: a worker with the scheduler
// queues every periodic task of jobs.Tasks, and says when it first will.
func TestTheWorkerSchedulesEveryPeriodicTask(t *testing.T) {
	var logs testenv.Buffer
	startWorker(t, redisBackends[0].url(t), jobs.Tasks, &logs)
	for _, task := range jobs.Tasks {
		if task.Schedule != "" && !regexp.MustCompile(`msg="scheduler started" component=scheduler next="\[.*`+regexp.QuoteMeta(task.Type)+` at `).MatchString(logs.String()) {
			t.Errorf("the scheduler's start does not name %s:\n%s", task.Type, logs.String())
		}
	}
}

// TestAPeriodicTaskThatCannotBeQueuedIsLoggedAsAnError: with its Redis
// gone, the scheduler cannot queue the period's run, and says so at error
// level with the task's type (asynq's scheduler said nothing).
func TestAPeriodicTaskThatCannotBeQueuedIsLoggedAsAnError(t *testing.T) {
	server := miniredis.RunT(t)
	task := jobs.Task{
		Type: "test:periodic", Options: []asynq.Option{asynq.Queue(jobs.QueueLow)}, Schedule: "@every 1s",
		Handle: func(*jobs.Handlers, context.Context, *asynq.Task) error { return nil },
	}
	var logs testenv.Buffer
	startWorker(t, "redis://"+server.Addr()+"/0", []jobs.Task{task}, &logs)
	server.Close()
	notQueued := regexp.MustCompile(`level=ERROR msg="periodic task not queued[^"]*" component=scheduler type=test:periodic`)
	testenv.WaitUntil(t, "an error saying the periodic task was not queued", 20*time.Second, 50*time.Millisecond, func() bool {
		return notQueued.MatchString(logs.String())
	})
}

// TestPeriodicTasksRetryWithinTheirPeriod: every try of a periodic run,
// with asynq's longest backoff between them, ends before the next period
// begins, so that runs do not pile up behind a failing one (asynq's
// defaults, 25 retries over about three weeks, would for an hourly task).
func TestPeriodicTasksRetryWithinTheirPeriod(t *testing.T) {
	for _, task := range jobs.Tasks {
		if task.Schedule == "" {
			continue
		}
		maxRetry, timeout := 25, 30*time.Minute // asynq's defaults
		for _, o := range task.Options {
			switch o.Type() {
			case asynq.MaxRetryOpt:
				maxRetry = o.Value().(int)
			case asynq.TimeoutOpt:
				timeout = o.Value().(time.Duration)
			}
		}
		worst := time.Duration(maxRetry+1) * timeout
		for n := range maxRetry { // asynq.DefaultRetryDelayFunc at its longest
			worst += time.Duration(int(math.Pow(float64(n), 4))+15+29*(n+1)) * time.Second
		}
		schedule, err := cron.ParseStandard(task.Schedule)
		if err != nil {
			t.Fatalf("%s: %v", task.Type, err)
		}
		period := time.Duration(math.MaxInt64)
		at := schedule.Next(time.Now().UTC())
		for range 1000 { // the shortest gap between two runs, over many
			next := schedule.Next(at)
			period, at = min(period, next.Sub(at)), next
		}
		if worst > period {
			t.Errorf("%s: %d retries of at most %s each may take %s, longer than its period (%s)", task.Type, maxRetry, timeout, worst, period)
		}
	}
}
