package ratelimit_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/launchkit/launchkit/internal/ratelimit"
	"github.com/launchkit/launchkit/internal/testenv"
)

// limiters are the places budgets can be kept, each run through the
// same tests.
func limiters(t *testing.T) map[string]func(t *testing.T) *ratelimit.Limiter {
	client := testenv.RedisClient
	return map[string]func(t *testing.T) *ratelimit.Limiter{
		"memory": func(*testing.T) *ratelimit.Limiter { return ratelimit.New(nil, slog.New(slog.DiscardHandler)) },
		"redis/embedded": func(t *testing.T) *ratelimit.Limiter {
			return ratelimit.New(client(t, "redis://"+miniredis.RunT(t).Addr()), slog.New(slog.DiscardHandler))
		},
		"redis": func(t *testing.T) *ratelimit.Limiter {
			return ratelimit.New(client(t, testenv.RedisURL(t)), slog.New(slog.DiscardHandler))
		},
		"redis, while it is down": func(t *testing.T) *ratelimit.Limiter {
			c := client(t, "redis://"+miniredis.RunT(t).Addr())
			_ = c.Close()
			return ratelimit.New(c, slog.New(slog.DiscardHandler))
		},
	}
}

func TestBudgets(t *testing.T) {
	for name, open := range limiters(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			l := open(t)
			ctx := t.Context()
			limit := ratelimit.Limit{Burst: 3, Period: 300 * time.Millisecond} // one more every 100ms

			for i := range 2 {
				if d := l.Take(ctx, "k", limit); !d.Allowed {
					t.Fatalf("take %d of 3 refused: %+v", i+1, d)
				}
			}
			for range 5 {
				if d := l.Peek(ctx, "k", limit); !d.Allowed {
					t.Fatalf("peek with one attempt left refused: %+v", d)
				}
			}
			if d := l.Take(ctx, "k", limit); !d.Allowed {
				t.Fatalf("take 3 of 3 refused (peeking spent some): %+v", d)
			}
			if d := l.Peek(ctx, "k", limit); d.Allowed {
				t.Error("peek with the budget spent allowed")
			}
			d := l.Take(ctx, "k", limit)
			if d.Allowed || d.RetryAfter <= 0 || d.RetryAfter > 110*time.Millisecond {
				t.Errorf("take 4 of 3 = %+v, want refused with a retry after at most 100ms", d)
			}
			if d := l.Take(ctx, "other", limit); !d.Allowed {
				t.Error("another key's budget was spent")
			}

			time.Sleep(120 * time.Millisecond)
			if d := l.Take(ctx, "k", limit); !d.Allowed {
				t.Errorf("after a refill interval: %+v, want allowed", d)
			}
			if d := l.Take(ctx, "k", limit); d.Allowed {
				t.Error("one refill interval gave back more than one attempt")
			}

			l.Reset(ctx, "k")
			for i := range 3 {
				if d := l.Take(ctx, "k", limit); !d.Allowed {
					t.Fatalf("after Reset, take %d refused", i+1)
				}
			}
		})
	}
}

// TestRedisBudgetsAreShared: two limiters on one Redis (two web
// processes) spend from the same budget.
func TestRedisBudgetsAreShared(t *testing.T) {
	addr := miniredis.RunT(t).Addr()
	open := func() *ratelimit.Limiter {
		c := redis.NewClient(&redis.Options{Addr: addr})
		t.Cleanup(func() { _ = c.Close() })
		return ratelimit.New(c, slog.New(slog.DiscardHandler))
	}
	one, two := open(), open()
	limit := ratelimit.Limit{Burst: 4, Period: time.Hour}
	for i := range 4 {
		l := one
		if i%2 == 1 {
			l = two
		}
		if d := l.Take(t.Context(), "shared", limit); !d.Allowed {
			t.Fatalf("take %d refused", i+1)
		}
	}
	if one.Take(t.Context(), "shared", limit).Allowed || two.Take(t.Context(), "shared", limit).Allowed {
		t.Error("the fifth attempt, on either process, was allowed")
	}

	// A reset on one process (the owner's sign-in or reset) gives the
	// budget back on every process: while Redis answers, it decides.
	for range 4 {
		one.Take(t.Context(), "spent on one", limit)
	}
	two.Reset(t.Context(), "spent on one")
	if d := one.Take(t.Context(), "spent on one", limit); !d.Allowed {
		t.Errorf("after a reset on another process, this one refused for %s", d.RetryAfter)
	}
}

// TestAStalledRedisCostsLittle: when Redis stops answering without
// closing its port (and the client would wait on it for ever), an
// attempt gives up on it well inside the caller's deadline and is
// counted in memory, where this process's earlier attempts already are
// (every attempt Redis allows is counted in both): an outage does not
// hand out a fresh budget.
func TestAStalledRedisCostsLittle(t *testing.T) {
	proxy := testenv.NewProxy(t, miniredis.RunT(t).Addr())
	c := redis.NewClient(&redis.Options{Addr: proxy.Addr(), ReadTimeout: -1, WriteTimeout: -1, ContextTimeoutEnabled: true}) // as redisconn.Open makes it
	t.Cleanup(func() { _ = c.Close() })
	l := ratelimit.New(c, slog.New(slog.DiscardHandler))
	limit := ratelimit.Limit{Burst: 3, Period: time.Hour}
	for range 2 {
		if !l.Take(t.Context(), "k", limit).Allowed {
			t.Fatal("an attempt within the budget was refused")
		}
	}
	proxy.Freeze()
	defer proxy.Thaw()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	for i, want := range []bool{true, false, false} {
		if got := l.Take(ctx, "k", limit).Allowed; got != want {
			t.Errorf("attempt %d of a budget of 3 (two of them counted in Redis before it stalled): allowed %v, want %v", i+3, got, want)
		}
		if ctx.Err() != nil {
			t.Fatalf("attempt %d waited for Redis until the caller's deadline", i+1)
		}
	}
}
