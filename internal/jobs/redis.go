package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// OpenRedis connects to the Redis REDIS_URL names (see ParseRedisURL) and
// checks that it answers. Behind Sentinel, the client follows the
// primary: after a failover its next commands go to the new one.
func OpenRedis(ctx context.Context, url string) (*redis.Client, error) {
	target, err := ParseRedisURL(url)
	if err != nil {
		return nil, err
	}
	rdb := target.Client()
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("connect to redis at %s: %w", target, err)
	}
	return rdb, nil
}

// RedisTarget is a parsed REDIS_URL: one server, or the primary a set of
// Sentinels names.
type RedisTarget struct {
	single   *redis.Options
	failover *redis.FailoverOptions
}

// ParseRedisURL reads REDIS_URL:
//
//	redis://[[user]:password@]host:port[/db]     one server (rediss:// for TLS)
//	redis+sentinel://[[user]:password@]host:port,host:port,…/master[/db]
//
// With redis+sentinel the hosts are Sentinels watching the primary named
// master; the password is the primary's (and its replicas'), and
// ?sentinel_password=… gives the Sentinels' own, when they have one.
func ParseRedisURL(raw string) (*RedisTarget, error) {
	if !strings.HasPrefix(raw, "redis+sentinel://") {
		opts, err := redis.ParseURL(raw)
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		// Honour each call's context deadline (a request's, the
		// readiness probe's) rather than only the client's own 3 s and
		// 5 s timeouts.
		opts.ContextTimeoutEnabled = true
		return &RedisTarget{single: opts}, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	path := strings.Split(strings.Trim(u.Path, "/"), "/")
	fo := &redis.FailoverOptions{MasterName: path[0], ContextTimeoutEnabled: true}
	for addr := range strings.SplitSeq(u.Host, ",") {
		if addr = strings.TrimSpace(addr); addr != "" {
			if !strings.Contains(addr, ":") {
				addr += ":26379"
			}
			fo.SentinelAddrs = append(fo.SentinelAddrs, addr)
		}
	}
	if len(path) > 1 {
		if fo.DB, err = strconv.Atoi(path[1]); err != nil || fo.DB < 0 || len(path) > 2 {
			return nil, fmt.Errorf("REDIS_URL: after the master's name the path holds only a database number: %q", u.Path)
		}
	}
	if fo.MasterName == "" || len(fo.SentinelAddrs) == 0 {
		return nil, errors.New("REDIS_URL: redis+sentinel:// needs the Sentinels' host:port list and the master's name: redis+sentinel://host1:26379,host2:26379/mymaster/0")
	}
	fo.Username = u.User.Username()
	fo.Password, _ = u.User.Password()
	fo.SentinelPassword = u.Query().Get("sentinel_password")
	return &RedisTarget{failover: fo}, nil
}

// Client is a go-redis client for the target (a failover client behind
// Sentinel, of the same type).
func (t *RedisTarget) Client() *redis.Client {
	if t.failover != nil {
		return redis.NewFailoverClient(t.failover)
	}
	return redis.NewClient(t.single)
}

// String names the target without its password.
func (t *RedisTarget) String() string {
	if f := t.failover; f != nil {
		return fmt.Sprintf("the primary %q of Sentinels %s", f.MasterName, strings.Join(f.SentinelAddrs, ","))
	}
	return t.single.Addr
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
