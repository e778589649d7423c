// Package ratelimit counts attempts against budgets: how many password
// guesses an account or a client address may make, how many forms an
// address may post. Budgets refill evenly (GCRA: a burst of Limit.Burst,
// then one more every Period/Burst).
//
// With Redis the counts are kept there (go-redis/redis_rate), so every
// web process spends from the same budget; without Redis, or while it
// fails, they are kept in this process's memory.
package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Limit is a budget: Burst attempts at once, refilled at Burst per Period.
type Limit struct {
	Burst  int
	Period time.Duration
}

// Decision is the answer to an attempt.
type Decision struct {
	Allowed bool
	// RetryAfter is how long until the next attempt is allowed, when
	// this one was not.
	RetryAfter time.Duration
}

// Limiter keeps the budgets. It is safe for concurrent use.
type Limiter struct {
	redis  *redis_rate.Limiter // nil: memory only
	memory *memory
	logger *slog.Logger
}

// New keeps budgets in rdb, or in memory when rdb is nil. While Redis
// answers it decides, and the attempts it allows are counted in memory
// too; when it fails, the memory count decides (and the failure is
// logged), so an outage neither locks everyone out nor hands out fresh
// budgets.
func New(rdb redis.UniversalClient, logger *slog.Logger) *Limiter {
	l := &Limiter{memory: newMemory(), logger: logger}
	if rdb != nil {
		l.redis = redis_rate.NewLimiter(rdb)
	}
	return l
}

// EmailKey is the budget key of an email address under prefix: the
// address as compared everywhere (trimmed, lower case), hashed, so that
// addresses are not kept in Redis.
func EmailKey(prefix, email string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(email))))
	return prefix + hex.EncodeToString(sum[:16])
}

// keyPrefix keeps the budgets apart from anything else in Redis.
const keyPrefix = "launchkit:limit:"

// redisTimeout bounds each call to Redis: a Redis that has stopped
// answering costs a request this long, then the attempt is counted in
// memory, rather than holding every sign-in for the client's timeouts.
const redisTimeout = 250 * time.Millisecond

// Take spends one attempt of key's budget if one is left.
func (l *Limiter) Take(ctx context.Context, key string, limit Limit) Decision {
	return l.allow(ctx, key, limit, true)
}

// Peek reports whether Take would be allowed now, spending nothing.
func (l *Limiter) Peek(ctx context.Context, key string, limit Limit) Decision {
	return l.allow(ctx, key, limit, false)
}

// Reset gives key its whole budget back.
func (l *Limiter) Reset(ctx context.Context, key string) {
	l.memory.reset(key)
	if l.redis != nil {
		ctx, cancel := context.WithTimeout(ctx, redisTimeout)
		defer cancel()
		if err := l.redis.Reset(ctx, keyPrefix+key); err != nil {
			l.logger.WarnContext(ctx, "rate limit: reset in Redis failed", "err", err)
		}
	}
}

func (l *Limiter) allow(ctx context.Context, key string, limit Limit, spend bool) Decision {
	if l.redis != nil {
		rl := redis_rate.Limit{Rate: limit.Burst, Burst: limit.Burst, Period: limit.Period}
		cost := 1
		if !spend {
			// Asking at no cost whether one attempt fits: the same
			// refill rate with a burst one smaller.
			rl.Burst, cost = limit.Burst-1, 0
		}
		rctx, cancel := context.WithTimeout(ctx, redisTimeout)
		res, err := l.redis.AllowN(rctx, keyPrefix+key, rl, cost)
		cancel()
		if err == nil {
			// Redis decides. What it allows is counted in memory too, so
			// that when Redis fails this process goes on from its own
			// attempts rather than a fresh budget.
			if spend && res.RetryAfter <= 0 {
				l.memory.record(key, limit, time.Now())
			}
			return Decision{Allowed: res.RetryAfter <= 0, RetryAfter: max(res.RetryAfter, 0)}
		}
		l.logger.WarnContext(ctx, "rate limit: Redis failed, counting in this process", "err", err)
	}
	return l.memory.allow(key, limit, spend, time.Now())
}

// memory is the GCRA of redis_rate's script, in this process: for each
// key, the theoretical arrival time of its next attempt.
type memory struct {
	mu    sync.Mutex
	tat   map[string]time.Time
	sweep time.Time // when stale keys were last dropped
}

func newMemory() *memory { return &memory{tat: map[string]time.Time{}} }

// maxMirrored bounds the keys memory keeps for attempts Redis allowed
// (record): spraying many keys at a healthy Redis cannot grow a
// process's memory without end. Past it, such attempts go unrecorded
// here, and only an outage would let them through again.
const maxMirrored = 50_000

func (m *memory) allow(key string, limit Limit, spend bool, now time.Time) Decision {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweepStale(now)
	interval := limit.Period / time.Duration(max(limit.Burst, 1))
	tat := m.tat[key]
	if tat.Before(now) {
		tat = now
	}
	next := tat.Add(interval)
	allowAt := next.Add(-interval * time.Duration(limit.Burst))
	if now.Before(allowAt) {
		return Decision{RetryAfter: allowAt.Sub(now)}
	}
	if spend {
		m.tat[key] = next
	}
	return Decision{Allowed: true}
}

// sweepStale forgets, at most once a minute, the keys whose arrival time
// has passed: they have their whole budget back, so forgetting them
// changes nothing. The caller holds mu.
func (m *memory) sweepStale(now time.Time) {
	if now.Sub(m.sweep) <= time.Minute {
		return
	}
	for k, t := range m.tat {
		if t.Before(now) {
			delete(m.tat, k)
		}
	}
	m.sweep = now
}

// record counts an attempt Redis allowed, without refusing it: this
// process's count never exceeds the budget, and other processes' attempts
// (or a reset elsewhere) are Redis's business while it answers.
func (m *memory) record(key string, limit Limit, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweepStale(now)
	tat, known := m.tat[key]
	if !known && len(m.tat) >= maxMirrored {
		return
	}
	if tat.Before(now) {
		tat = now
	}
	tat = tat.Add(limit.Period / time.Duration(max(limit.Burst, 1)))
	if ceiling := now.Add(limit.Period); tat.After(ceiling) {
		tat = ceiling // a whole budget spent, no more
	}
	m.tat[key] = tat
}

func (m *memory) reset(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.tat, key)
}
