package cache_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/launchkit/launchkit/internal/cache"
	"github.com/launchkit/launchkit/internal/testenv"
)

// backend is a store under test, with a way to let time pass for it.
type backend struct {
	name string
	open func(t *testing.T) (store cache.Store, pass func(time.Duration))
}

// backends run the same conformance suite: memory; Redis, the embedded
// one and the real one TEST_REDIS_URL names.
var backends = []backend{
	{"memory", func(*testing.T) (cache.Store, func(time.Duration)) { return cache.Memory(1000), time.Sleep }},
	{"redis/embedded", func(t *testing.T) (cache.Store, func(time.Duration)) {
		m := miniredis.RunT(t)
		return cache.Redis(testenv.RedisClient(t, "redis://"+m.Addr())), m.FastForward // its clock moves when told
	}},
	{"redis", func(t *testing.T) (cache.Store, func(time.Duration)) {
		return cache.Redis(testenv.RedisClient(t, testenv.RedisURL(t))), time.Sleep
	}},
}

var discard = slog.New(slog.DiscardHandler)

type stats struct {
	Users int            `json:"users"`
	Roles map[string]int `json:"roles"`
}

// TestConformance: every store keeps, returns, expires and forgets
// values; Fetch computes a value once, however many ask for it at once,
// then serves it until it expires; a failing computation is returned and
// nothing is kept.
func TestConformance(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			store, pass := b.open(t)
			ctx := t.Context()
			if _, found, err := store.Get(ctx, "absent"); err != nil || found {
				t.Fatalf("Get of an absent key = %v, %v", found, err)
			}
			if err := store.Set(ctx, "k", []byte("v"), time.Hour); err != nil {
				t.Fatal(err)
			}
			if v, found, err := store.Get(ctx, "k"); err != nil || !found || string(v) != "v" {
				t.Fatalf("Get = %q, %v, %v", v, found, err)
			}
			if err := store.Delete(ctx, "k"); err != nil {
				t.Fatal(err)
			}
			if _, found, _ := store.Get(ctx, "k"); found {
				t.Error("a deleted key is still there")
			}
			if err := store.Set(ctx, "short", []byte("v"), 200*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			pass(400 * time.Millisecond)
			if _, found, _ := store.Get(ctx, "short"); found {
				t.Error("a value outlived its time to live")
			}
			if err := store.Set(ctx, "forever", []byte("v"), 0); err == nil {
				t.Error("a value without a time to live was kept")
			}

			c := cache.New(store, time.Hour, discard, cache.Observer{})
			var computed atomic.Int32
			compute := func(context.Context) (stats, error) {
				computed.Add(1)
				time.Sleep(50 * time.Millisecond) // long enough for the others to arrive
				return stats{Users: 3, Roles: map[string]int{"admin": 1}}, nil
			}
			var wg sync.WaitGroup
			results := make([]stats, 20)
			for i := range results {
				wg.Go(func() {
					v, err := cache.Fetch(ctx, c, "stats", 0, compute)
					if err != nil {
						t.Error(err)
					}
					results[i] = v
				})
			}
			wg.Wait()
			if computed.Load() != 1 {
				t.Errorf("20 Fetches at once computed %d times, want 1", computed.Load())
			}
			for _, r := range results {
				if r.Users != 3 || r.Roles["admin"] != 1 {
					t.Fatalf("a Fetch got %+v", r)
				}
			}
			if v, _ := cache.Fetch(ctx, c, "stats", 0, compute); v.Users != 3 || computed.Load() != 1 {
				t.Errorf("a later Fetch = %+v after %d computations, want the kept value", v, computed.Load())
			}
			if err := c.Forget(ctx, "stats"); err != nil {
				t.Fatal(err)
			}
			if _, _ = cache.Fetch(ctx, c, "stats", 0, compute); computed.Load() != 2 {
				t.Errorf("after Forget, Fetch computed %d times in all, want 2", computed.Load())
			}

			boom := errors.New("boom")
			if _, err := cache.Fetch(ctx, c, "fails", 0, func(context.Context) (int, error) { return 0, boom }); !errors.Is(err, boom) {
				t.Errorf("a failing computation: %v", err)
			}
			if _, found, _ := store.Get(ctx, "fails"); found {
				t.Error("a failed computation was kept")
			}
		})
	}
}

// TestAnOutageDegradesToComputing: with Redis gone, Fetch computes every
// time and returns the value (never an error), and counts each failure.
func TestAnOutageDegradesToComputing(t *testing.T) {
	m := miniredis.RunT(t)
	rdb := testenv.RedisClient(t, "redis://"+m.Addr())
	var failures, hits, misses atomic.Int32
	c := cache.New(cache.Redis(rdb), time.Hour, discard, cache.Observer{Error: func(string) { failures.Add(1) }, Lookup: countLookups(&hits, &misses)})
	m.Close()
	for i := range 3 {
		v, err := cache.Fetch(t.Context(), c, "k", 0, func(context.Context) (string, error) { return fmt.Sprint("computed ", i), nil })
		if err != nil || v != fmt.Sprint("computed ", i) {
			t.Errorf("Fetch with Redis down = %q, %v", v, err)
		}
	}
	if failures.Load() != 6 { // a get and a set each time
		t.Errorf("%d failures counted, want 6", failures.Load())
	}
	if hits.Load() != 0 || misses.Load() != 3 {
		t.Errorf("with the store down: %d hits and %d misses, want 0 and 3 (each value was computed)", hits.Load(), misses.Load())
	}
	// Forget cannot promise the old value is gone: it says so.
	if err := c.Forget(t.Context(), "k"); err == nil || !strings.Contains(err.Error(), "cache: forget k:") {
		t.Errorf("Forget with Redis down = %v, want an error", err)
	}
	if failures.Load() != 7 {
		t.Errorf("%d failures counted after Forget, want 7", failures.Load())
	}
}

// countLookups is an Observer.Lookup adding to hits and misses.
func countLookups(hits, misses *atomic.Int32) func(bool) {
	return func(hit bool) {
		if hit {
			hits.Add(1)
		} else {
			misses.Add(1)
		}
	}
}

// TestLookupsAreCountedAsHitsAndMisses: a value read back from the store
// is a hit; one computed (first asked, forgotten, or kept by a version
// whose type differed) is a miss.
func TestLookupsAreCountedAsHitsAndMisses(t *testing.T) {
	var hits, misses atomic.Int32
	c := cache.New(cache.Memory(100), time.Hour, discard, cache.Observer{Lookup: countLookups(&hits, &misses)})
	ctx := t.Context()
	number := func(context.Context) (int, error) { return 7, nil }
	for range 3 {
		if _, err := cache.Fetch(ctx, c, "k", 0, number); err != nil {
			t.Fatal(err)
		}
	}
	if hits.Load() != 2 || misses.Load() != 1 {
		t.Errorf("three Fetches of a key: %d hits and %d misses, want 2 and 1", hits.Load(), misses.Load())
	}
	_ = c.Forget(ctx, "k")
	_, _ = cache.Fetch(ctx, c, "k", 0, number)
	// The same key read as another type cannot be decoded: computed.
	_, _ = cache.Fetch(ctx, c, "k", 0, func(context.Context) (string, error) { return "seven", nil })
	if hits.Load() != 2 || misses.Load() != 3 {
		t.Errorf("after Forget and a Fetch as another type: %d hits and %d misses, want 2 and 3", hits.Load(), misses.Load())
	}
}

// TestACallerGivingUpFailsNobodyElse: the computation that serves every
// caller waiting on a key runs on its own; the first caller's context
// ending stops only that caller's wait.
func TestACallerGivingUpFailsNobodyElse(t *testing.T) {
	c := cache.New(cache.Memory(100), time.Hour, discard, cache.Observer{})
	release := make(chan struct{})
	compute := func(ctx context.Context) (string, error) {
		select {
		case <-release:
			return "value", nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	first, cancel := context.WithCancel(t.Context())
	firstErr := make(chan error, 1)
	go func() {
		_, err := cache.Fetch(first, c, "k", 0, compute)
		firstErr <- err
	}()
	time.Sleep(20 * time.Millisecond) // the first caller starts the computation
	second := make(chan string, 1)
	go func() {
		v, err := cache.Fetch(t.Context(), c, "k", 0, compute)
		if err != nil {
			t.Error(err)
		}
		second <- v
	}()
	cancel()
	if err := <-firstErr; !errors.Is(err, context.Canceled) {
		t.Errorf("the caller that gave up got %v", err)
	}
	close(release)
	if v := <-second; v != "value" {
		t.Errorf("the caller still waiting got %q, want the value", v)
	}
}
