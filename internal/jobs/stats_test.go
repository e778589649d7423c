package jobs_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/launchkit/launchkit/internal/jobs"
	"github.com/launchkit/launchkit/internal/mail"
	"github.com/launchkit/launchkit/internal/redisconn"
	"github.com/launchkit/launchkit/internal/testenv"
)

// TestStatsCountsTasksByState: Stats adds up every queue's tasks by
// state, and keeps its answer for a while.
func TestStatsCountsTasksByState(t *testing.T) {
	for _, backend := range redisBackends {
		t.Run(backend.name, func(t *testing.T) {
			ctx := context.Background()
			rdb := openRedis(t, backend.url(t))
			c := jobs.NewClient(rdb)

			empty, err := c.Stats(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if empty != (jobs.JobStats{}) {
				t.Fatalf("stats of an empty Redis = %+v", empty)
			}

			c = jobs.NewClient(rdb) // no cached answer
			for range 3 {
				if err := c.EnqueueMail(ctx, mail.Message{To: []string{"ada@example.com"}, Subject: "Hi", Text: "Hello"}); err != nil {
					t.Fatal(err)
				}
			}
			aq := asynq.NewClientFromRedisClient(rdb)
			if _, err := aq.Enqueue(asynq.NewTask("later", nil), asynq.Queue(jobs.QueueLow), asynq.ProcessIn(time.Hour)); err != nil {
				t.Fatal(err)
			}
			failed, err := aq.Enqueue(asynq.NewTask("doomed", nil), asynq.Queue(jobs.QueueDefault))
			if err != nil {
				t.Fatal(err)
			}
			if err := asynq.NewInspectorFromRedisClient(rdb).ArchiveTask(jobs.QueueDefault, failed.ID); err != nil {
				t.Fatal(err)
			}

			got, err := c.Stats(ctx)
			if err != nil {
				t.Fatal(err)
			}
			want := jobs.JobStats{Pending: 3, Scheduled: 1, Archived: 1}
			if got != want {
				t.Errorf("Stats = %+v, want %+v", got, want)
			}
			if got.Queued() != 3 {
				t.Errorf("Queued = %d, want 3", got.Queued())
			}
			// By queue (the metrics' launchkit_queue_tasks), from the same
			// reading. The mail went to its own queue.
			byQueue, err := c.QueueStats(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if byQueue[jobs.QueueLow] != (jobs.JobStats{Scheduled: 1}) || byQueue[jobs.QueueDefault] != (jobs.JobStats{Archived: 1}) {
				t.Errorf("QueueStats = %+v", byQueue)
			}
			var mail jobs.JobStats
			for name, q := range byQueue {
				if name != jobs.QueueLow && name != jobs.QueueDefault {
					mail.Pending += q.Pending
				}
			}
			if mail.Pending != 3 {
				t.Errorf("QueueStats = %+v, want the 3 mails pending in their queue", byQueue)
			}

			// Within StatsTTL the answer is the one kept.
			if _, err := aq.Enqueue(asynq.NewTask("another", nil), asynq.Queue(jobs.QueueLow)); err != nil {
				t.Fatal(err)
			}
			if again, _ := c.Stats(ctx); again != got {
				t.Errorf("Stats within its TTL = %+v, want the kept %+v", again, got)
			}
		})
	}
}

// TestStatsWhenRedisIsDown: a Redis that is gone or does not answer
// gives ErrStatsUnavailable within StatsTimeout, and then at once until
// StatsTTL has passed.
func TestStatsWhenRedisIsDown(t *testing.T) {
	t.Run("closed", func(t *testing.T) {
		e, err := redisconn.StartEmbedded()
		if err != nil {
			t.Fatal(err)
		}
		rdb := openRedis(t, e.URL())
		c := jobs.NewClient(rdb)
		e.Close()
		start := time.Now()
		if _, err := c.Stats(context.Background()); !errors.Is(err, jobs.ErrStatsUnavailable) {
			t.Fatalf("Stats with Redis stopped: %v, want ErrStatsUnavailable", err)
		}
		if d := time.Since(start); d > jobs.StatsTimeout+500*time.Millisecond {
			t.Errorf("Stats took %s, want at most about %s", d, jobs.StatsTimeout)
		}
	})
	t.Run("silent", func(t *testing.T) {
		// A server that accepts connections and never answers.
		rdb := openSilentRedis(t)
		c := jobs.NewClient(rdb)
		start := time.Now()
		if _, err := c.Stats(context.Background()); !errors.Is(err, jobs.ErrStatsUnavailable) {
			t.Fatalf("Stats with a silent Redis: %v, want ErrStatsUnavailable", err)
		}
		if d := time.Since(start); d < jobs.StatsTimeout/2 || d > jobs.StatsTimeout+500*time.Millisecond {
			t.Errorf("Stats took %s, want about %s", d, jobs.StatsTimeout)
		}
		start = time.Now()
		if _, err := c.Stats(context.Background()); !errors.Is(err, jobs.ErrStatsUnavailable) {
			t.Fatalf("second Stats: %v, want ErrStatsUnavailable", err)
		}
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Errorf("the second Stats waited %s: the failure was not kept", d)
		}
	})
}

// openSilentRedis is a client of a server that never answers.
func openSilentRedis(t *testing.T) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: testenv.SilentListener(t)})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}
