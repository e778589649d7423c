package outbox_test

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/launchkit/launchkit/internal/outbox"
	"github.com/launchkit/launchkit/internal/testenv"
)

func queue(string) []asynq.Option { return []asynq.Option{asynq.Queue("default")} }

func pendingTasks(t *testing.T, rdb *redis.Client) []*asynq.TaskInfo {
	t.Helper()
	tasks, err := asynq.NewInspectorFromRedisClient(rdb).ListPendingTasks("default", asynq.PageSize(1000))
	if err != nil && !errors.Is(err, asynq.ErrQueueNotFound) {
		t.Fatal(err)
	}
	return tasks
}

// TestOutbox: a task added in a transaction reaches the queue only if the
// transaction commits; while Redis is away it waits in the table, and it
// runs once however many relays send it.
func TestOutbox(t *testing.T) {
	for _, dialect := range testenv.Dialects {
		t.Run(dialect.Name, func(t *testing.T) {
			d := testenv.MigratedDB(t, dialect.URL(t))
			redisServer := miniredis.RunT(t)
			rdb := redis.NewClient(&redis.Options{Addr: redisServer.Addr()})
			t.Cleanup(func() { _ = rdb.Close() })
			relay := outbox.NewRelay(d.Gorm, rdb, queue, slog.New(slog.DiscardHandler))
			ctx := t.Context()

			rolledBack := errors.New("roll back")
			err := d.Gorm.Transaction(func(tx *gorm.DB) error {
				if err := outbox.Add(tx, "test:task", []byte("lost")); err != nil {
					return err
				}
				return rolledBack
			})
			if !errors.Is(err, rolledBack) {
				t.Fatal(err)
			}
			if err := d.Gorm.Transaction(func(tx *gorm.DB) error { return outbox.Add(tx, "test:task", []byte("kept")) }); err != nil {
				t.Fatal(err)
			}
			if n, err := relay.Flush(ctx); err != nil || n != 1 {
				t.Fatalf("Flush = %d, %v; want the one committed row", n, err)
			}
			tasks := pendingTasks(t, rdb)
			if len(tasks) != 1 || string(tasks[0].Payload) != "kept" {
				t.Fatalf("queued %v, want the committed task alone", tasks)
			}
			if n, _ := relay.Pending(ctx); n != 0 {
				t.Errorf("%d rows left after a flush", n)
			}

			// Redis away: rows wait, the answer is an error, nothing is lost.
			redisServer.Close()
			for i := range 3 {
				if err := outbox.Add(d.Gorm, "test:task", fmt.Appendf(nil, "while down %d", i)); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := relay.Flush(ctx); err == nil {
				t.Error("Flush with Redis down reported no error")
			}
			if n, _ := relay.Pending(ctx); n != 3 {
				t.Errorf("%d rows waiting with Redis down, want 3", n)
			}
			if err := redisServer.Restart(); err != nil {
				t.Fatal(err)
			}

			// Several relays at once (several processes): each row runs once.
			var wg sync.WaitGroup
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					other := outbox.NewRelay(d.Gorm, rdb, queue, slog.New(slog.DiscardHandler))
					if _, err := other.Flush(ctx); err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			if tasks := pendingTasks(t, rdb); len(tasks) != 4 {
				t.Errorf("%d tasks queued, want 4 (1 before, 3 while Redis was down), each once", len(tasks))
			}
			if n, _ := relay.Pending(ctx); n != 0 {
				t.Errorf("%d rows left", n)
			}
		})
	}
}

// TestSendNeverQueuesBehindAFlush: requests sending their rows while this
// process's relay is stuck on a Redis that stopped answering return at
// once instead of queueing behind it; their rows go out with the running
// flush once Redis answers, however long the backlog.
func TestSendNeverQueuesBehindAFlush(t *testing.T) {
	d := testenv.MigratedDB(t, "sqlite://"+filepath.Join(t.TempDir(), "outbox.db"))
	proxy := testenv.NewProxy(t, miniredis.RunT(t).Addr())
	rdb := redis.NewClient(&redis.Options{Addr: proxy.Addr(), ContextTimeoutEnabled: true, ReadTimeout: -1, WriteTimeout: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	relay := outbox.NewRelay(d.Gorm, rdb, queue, slog.New(slog.DiscardHandler))
	relay.SendTimeout = time.Minute // the stuck Send waits for the thaw, not a timer
	ctx := t.Context()
	add := func(n int) {
		for i := range n {
			if err := outbox.Add(d.Gorm, "test:task", fmt.Appendf(nil, "row %d", i)); err != nil {
				t.Fatal(err)
			}
		}
	}

	add(1)
	proxy.Freeze()
	stuck := make(chan struct{})
	go func() {
		defer close(stuck)
		relay.Send(ctx)
	}()
	// Until the stuck Send holds the relay, a later one may take it and
	// get stuck in its place: wait for Sends that return.
	returned := make(chan struct{}, 64)
	for range 4 {
		add(60) // while the first flush is stuck: more than a batch in all
		go func() {
			relay.Send(ctx)
			returned <- struct{}{}
		}()
	}
	deadline := time.After(30 * time.Second)
	for range 3 {
		select {
		case <-returned:
		case <-deadline:
			proxy.Thaw()
			t.Fatal("Sends queued behind the stuck flush")
		}
	}
	proxy.Thaw()
	<-stuck
	<-returned
	if n, _ := relay.Pending(ctx); n != 0 {
		t.Errorf("%d rows left after the stuck flush went on", n)
	}
	if tasks := pendingTasks(t, rdb); len(tasks) != 1+4*60 {
		t.Errorf("%d tasks queued, want %d", len(tasks), 1+4*60)
	}
}

// TestAPanicInASendLeavesTheRelayWorking: a Send that panics (recovered
// by the request's middleware) releases the relay, so later sends and
// the relay's loop still move rows; it stayed locked for good once.
func TestAPanicInASendLeavesTheRelayWorking(t *testing.T) {
	d := testenv.MigratedDB(t, "sqlite://"+filepath.Join(t.TempDir(), "outbox.db"))
	rdb := redis.NewClient(&redis.Options{Addr: miniredis.RunT(t).Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	var panicked atomic.Bool
	options := func(taskType string) []asynq.Option {
		if panicked.CompareAndSwap(false, true) {
			panic("a bad task type")
		}
		return queue(taskType)
	}
	relay := outbox.NewRelay(d.Gorm, rdb, options, slog.New(slog.DiscardHandler))
	if err := outbox.Add(d.Gorm, "test:task", []byte("row")); err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() { _ = recover() }()
		relay.Send(t.Context())
	}()
	if !panicked.Load() {
		t.Fatal("the Send did not panic")
	}
	done := make(chan error, 1)
	go func() {
		_, err := relay.Flush(t.Context())
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the relay stayed locked after a Send panicked")
	}
	if tasks := pendingTasks(t, rdb); len(tasks) != 1 {
		t.Errorf("%d tasks queued, want the row's 1", len(tasks))
	}
}
