// Package redisconn is the one place Launchkit opens Redis: the job
// queue, the redis session store, the shared cache and the rate limits
// all use a client made here. It reads REDIS_URL (one server, or a
// primary behind Sentinels), sets the go-redis options every client
// shares, hands the client to asynq, sends the client library's own
// logging to the process logger, and starts the embedded in-memory
// Redis of development (embedded.go; left out of a build with -tags
// nodev).
package redisconn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// Open connects to the Redis rawURL names (see Parse) and checks that it
// answers. Behind Sentinel, the client follows the primary: after a
// failover its next commands go to the new one.
func Open(ctx context.Context, rawURL string) (*redis.Client, error) {
	target, err := Parse(rawURL)
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

// Target is a parsed REDIS_URL: one server, or the primary a set of
// Sentinels names.
type Target struct {
	single   *redis.Options
	failover *redis.FailoverOptions
}

// Parse reads REDIS_URL:
//
//	redis://[[user]:password@]host:port[/db]     one server (rediss:// for TLS)
//	redis+sentinel://[[user]:password@]host:port,host:port,…/master[/db]
//
// With redis+sentinel the hosts are Sentinels watching the primary named
// master; the password is the primary's (and its replicas'), and
// ?sentinel_password=… gives the Sentinels' own, when they have one.
//
// Its errors never quote the URL, which may hold a password.
func Parse(raw string) (*Target, error) {
	if u, err := url.Parse(raw); err == nil && strings.Contains(u.Path+u.RawQuery+u.Fragment, "@") {
		// The '@' that ends a password is past the host: a reserved
		// character in the password (/ ? #) ended the authority early,
		// and the password's rest would show in any error about the
		// path or the query.
		return nil, errors.New("REDIS_URL: not a valid URL: an '@' follows the host (" + escapeHint + ")")
	}
	if !strings.HasPrefix(raw, "redis+sentinel://") {
		opts, err := redis.ParseURL(raw)
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL: %w", withoutURL(err))
		}
		// Honour each call's context deadline (a request's, the
		// readiness probe's) rather than only the client's own 3 s and
		// 5 s timeouts.
		opts.ContextTimeoutEnabled = true
		return &Target{single: opts}, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", withoutURL(err))
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
			return nil, errors.New("REDIS_URL: after the master's name the path holds only a database number: redis+sentinel://host1:26379,host2:26379/mymaster/0")
		}
	}
	if fo.MasterName == "" || len(fo.SentinelAddrs) == 0 {
		return nil, errors.New("REDIS_URL: redis+sentinel:// needs the Sentinels' host:port list and the master's name: redis+sentinel://host1:26379,host2:26379/mymaster/0")
	}
	fo.Username = u.User.Username()
	fo.Password, _ = u.User.Password()
	fo.SentinelPassword = u.Query().Get("sentinel_password")
	return &Target{failover: fo}, nil
}

// quoted is a fragment of the URL that net/url quotes in its errors (a
// bad escape, port or host character): in a URL that does not parse, it
// may be part of the password.
var quoted = regexp.MustCompile(` ?"[^"]*"`)

// withoutURL is err without the URL and the fragments of it that
// net/url's parse errors quote ("parse "redis://u:pw%zz@…": invalid URL
// escape "%zz""): what is wrong, not where.
func withoutURL(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	return fmt.Errorf("not a valid URL: %s (%s)", quoted.ReplaceAllString(ue.Err.Error(), ""), escapeHint)
}

// escapeHint says how a password with reserved characters is written.
const escapeHint = "a password's reserved characters, such as % / ? # @, must be %-escaped"

// Client is a go-redis client for the target (a failover client behind
// Sentinel, of the same type).
func (t *Target) Client() *redis.Client {
	if t.failover != nil {
		return redis.NewFailoverClient(t.failover)
	}
	return redis.NewClient(t.single)
}

// String names the target without its password.
func (t *Target) String() string {
	if f := t.failover; f != nil {
		return fmt.Sprintf("the primary %q of Sentinels %s", f.MasterName, strings.Join(f.SentinelAddrs, ","))
	}
	return t.single.Addr
}

// LogTo sends what the Redis client library has to say (a pool that
// cannot reach its server, …) to logger as warnings, rather than as its
// own unstructured lines on stderr. The library has one logger per
// process: the last call wins.
func LogTo(logger *slog.Logger) {
	redis.SetLogger(redisLog{logger.With("component", "redis")})
}

type redisLog struct{ l *slog.Logger }

func (r redisLog) Printf(ctx context.Context, format string, v ...any) {
	r.l.WarnContext(ctx, strings.TrimPrefix(fmt.Sprintf(format, v...), "redis: "))
}

// Shared hands rdb itself to asynq code that asks for a connection option
// (asynqmon): it then uses the process's pool rather than opening its
// own, and has nothing of its own to close. Closing rdb stays the
// caller's job; never call Close on what was built with it.
func Shared(rdb *redis.Client) asynq.RedisConnOpt { return sharedClient{rdb} }

type sharedClient struct{ rdb *redis.Client }

// MakeRedisClient implements asynq.RedisConnOpt.
func (s sharedClient) MakeRedisClient() any { return s.rdb }
