// Package cache keeps computed values for a while, so that work done for
// one request serves the next: in this process's memory (otter), or in
// Redis, shared by every process (CACHE_TYPE). Values are stored as JSON,
// a codec that reads back across versions of the code as long as the
// type's fields do.
//
// A cache is never a reason for a request to fail: when the store does
// not answer, Fetch computes the value (and the failure is logged and
// counted in launchkit_cache_errors_total). Each Fetch counts as a hit or a
// miss (launchkit_cache_requests_total).
//
//	stats, err := cache.Fetch(ctx, s.cache, "admin:stats", time.Minute, s.users.Stats)
package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"
)

// Store keeps values under string keys, each for its own time.
type Store interface {
	// Get returns the value under key; found is false when there is none
	// (or it expired).
	Get(ctx context.Context, key string) (value []byte, found bool, err error)
	// Set keeps value under key for ttl.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Delete forgets key (nothing happens when there is no such key).
	Delete(ctx context.Context, key string) error
}

// Cache is a Store with a default time to live, one computation per key
// at a time in this process, and failures that degrade to computing.
type Cache struct {
	store  Store
	ttl    time.Duration
	flight singleflight.Group
	logger *slog.Logger
	obs    Observer
}

// Observer is told what the cache does, for the metrics. Either function
// may be nil.
type Observer struct {
	// Lookup is told of each Fetch: hit when the value was read from the
	// store, else (computed, the store failing included) a miss.
	Lookup func(hit bool)
	// Error is told of each failure of the store, by operation (get, set,
	// delete).
	Error func(op string)
}

// New wraps store; ttl is the default time to live (CACHE_EXPIRE), and
// obs counts the lookups and the store's failures.
func New(store Store, ttl time.Duration, logger *slog.Logger, obs Observer) *Cache {
	return &Cache{store: store, ttl: ttl, logger: logger, obs: obs}
}

func (c *Cache) failed(ctx context.Context, op, key string, err error) {
	c.logger.WarnContext(ctx, "cache: the store failed; computing instead", "op", op, "key", key, "err", err)
	if c.obs.Error != nil {
		c.obs.Error(op)
	}
}

func (c *Cache) lookedUp(hit bool) {
	if c.obs.Lookup != nil {
		c.obs.Lookup(hit)
	}
}

// Fetch returns the value of type T under key, or computes it, keeps it
// for ttl (0: the cache's default) and returns it. Concurrent Fetches of
// one key in this process compute it once; an error of compute is
// returned and nothing is kept.
func Fetch[T any](ctx context.Context, c *Cache, key string, ttl time.Duration, compute func(context.Context) (T, error)) (T, error) {
	var zero T
	if b, found, err := c.store.Get(ctx, key); err != nil {
		c.failed(ctx, "get", key, err)
	} else if found {
		var v T
		if err := json.Unmarshal(b, &v); err == nil {
			c.lookedUp(true)
			return v, nil
		}
		// Written by a version of the code whose T differed: recompute.
	}
	c.lookedUp(false)
	// The computation serves every caller waiting on the key, so it runs
	// on its own context (within computeTimeout), not the first caller's:
	// one caller giving up must not fail the others. Each caller still
	// stops waiting when its own context ends.
	results := c.flight.DoChan(key, func() (any, error) {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), computeTimeout)
		defer cancel()
		v, err := compute(cctx)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("cache %s: %w", key, err)
		}
		if err := c.store.Set(cctx, key, b, cmpTTL(ttl, c.ttl)); err != nil {
			c.failed(cctx, "set", key, err)
		}
		return v, nil
	})
	select {
	case <-ctx.Done():
		return zero, ctx.Err()
	case r := <-results:
		if r.Err != nil {
			return zero, r.Err
		}
		if v, ok := r.Val.(T); ok {
			return v, nil
		}
		// Another caller fetched the key as a different type at the same
		// moment: compute this one's own.
		return compute(ctx)
	}
}

// computeTimeout bounds a computation Fetch runs for its callers.
const computeTimeout = 30 * time.Second

// Forget drops key, so that the next Fetch computes it afresh (after a
// change the cached value would hide). It reports a failure of the store,
// which may then hold the old value until it expires.
func (c *Cache) Forget(ctx context.Context, key string) error {
	if err := c.store.Delete(ctx, key); err != nil {
		c.failed(ctx, "delete", key, err)
		return fmt.Errorf("cache: forget %s: %w", key, err)
	}
	return nil
}

func cmpTTL(ttl, fallback time.Duration) time.Duration {
	if ttl > 0 {
		return ttl
	}
	return fallback
}

// Memory keeps values in this process, at most maxEntries of them (the
// least useful go first).
func Memory(maxEntries int) Store {
	return memory{c: otter.Must(&otter.Options[string, entry]{
		MaximumSize: maxEntries,
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, entry]) time.Duration {
			return e.Value.ttl
		}),
	})}
}

type entry struct {
	value []byte
	ttl   time.Duration
}

type memory struct{ c *otter.Cache[string, entry] }

func (m memory) Get(_ context.Context, key string) ([]byte, bool, error) {
	e, ok := m.c.GetIfPresent(key)
	return e.value, ok, nil
}

func (m memory) Set(_ context.Context, key string, value []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return errors.New("cache: a value needs a time to live")
	}
	m.c.Set(key, entry{value: value, ttl: ttl})
	return nil
}

func (m memory) Delete(_ context.Context, key string) error {
	m.c.Invalidate(key)
	return nil
}

// keyPrefix keeps cached values apart from anything else in Redis.
const keyPrefix = "launchkit:cache:"

// Redis keeps values in rdb, shared by every process that uses it.
func Redis(rdb *redis.Client) Store { return redisStore{rdb} }

type redisStore struct{ rdb *redis.Client }

// redisTimeout bounds each call: a Redis that stops answering costs a
// request this long, then the value is computed, rather than the
// client's own timeouts.
const redisTimeout = 250 * time.Millisecond

func (r redisStore) Get(ctx context.Context, key string) ([]byte, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, redisTimeout)
	defer cancel()
	b, err := r.rdb.Get(ctx, keyPrefix+key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return b, true, nil
}

func (r redisStore) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return errors.New("cache: a value needs a time to live")
	}
	ctx, cancel := context.WithTimeout(ctx, redisTimeout)
	defer cancel()
	return r.rdb.Set(ctx, keyPrefix+key, value, ttl).Err()
}

func (r redisStore) Delete(ctx context.Context, key string) error {
	ctx, cancel := context.WithTimeout(ctx, redisTimeout)
	defer cancel()
	return r.rdb.Del(ctx, keyPrefix+key).Err()
}
