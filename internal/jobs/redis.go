package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// OpenRedis connects to the Redis at url (redis:// or rediss://) and checks
// that it answers.
func OpenRedis(ctx context.Context, url string) (*redis.Client, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	// Honour each call's context deadline (a request's, the readiness
	// probe's) rather than only the client's own 3 s and 5 s timeouts.
	opts.ContextTimeoutEnabled = true
	rdb := redis.NewClient(opts)
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("connect to redis at %s: %w", opts.Addr, err)
	}
	return rdb, nil
}

// LogRedisTo sends what the Redis client library has to say (a pool that
// cannot reach its server, …) to logger as warnings, rather than as its
// own unstructured lines on stderr. The library has one logger per
// process: the last call wins.
func LogRedisTo(logger *slog.Logger) {
	redis.SetLogger(redisLog{logger.With("component", "redis")})
}

type redisLog struct{ l *slog.Logger }

func (r redisLog) Printf(ctx context.Context, format string, v ...any) {
	r.l.WarnContext(ctx, strings.TrimPrefix(fmt.Sprintf(format, v...), "redis: "))
}

// EmbeddedRedis is an in-memory Redis inside this process, for development
// without services. Its data is gone when the process exits.
type EmbeddedRedis struct {
	server *miniredis.Miniredis
	stop   chan struct{}
	done   chan struct{}
}

// StartEmbeddedRedis starts one on a free loopback port.
func StartEmbeddedRedis() (*EmbeddedRedis, error) {
	s := miniredis.NewMiniRedis()
	if err := s.StartAddr("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("start embedded redis: %w", err)
	}
	e := &EmbeddedRedis{server: s, stop: make(chan struct{}), done: make(chan struct{})}
	go e.tick()
	return e, nil
}

// tick moves miniredis's clock for key expiry, which it does not do by
// itself: without it asynq's heartbeats and locks would never expire.
func (e *EmbeddedRedis) tick() {
	defer close(e.done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			e.server.FastForward(time.Second)
		case <-e.stop:
			return
		}
	}
}

// URL is the redis:// URL to reach it.
func (e *EmbeddedRedis) URL() string { return "redis://" + e.server.Addr() + "/0" }

// Close stops it.
func (e *EmbeddedRedis) Close() {
	close(e.stop)
	<-e.done
	e.server.Close()
}
