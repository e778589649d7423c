// Package testenv gives tests isolated real backing services: a fresh
// SQLite file, a PostgreSQL schema, a MySQL/MariaDB database and an empty
// Redis database, each removed when the test ends. PostgreSQL, MySQL and
// Redis come from TEST_DATABASE_URL, TEST_MYSQL_URL and TEST_REDIS_URL;
// when one is unset the test is skipped with a message saying so.
package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql" // database/sql driver "mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"github.com/redis/go-redis/v9"

	"github.com/launchkit/launchkit/internal/db"
)

// Dialect is a database a test can run against.
type Dialect struct {
	Name string
	// URL returns a DATABASE_URL to an empty, isolated database, or skips.
	URL func(t testing.TB) string
}

// Dialects lists SQLite, PostgreSQL and MySQL, for tests that run once
// against each.
var Dialects = []Dialect{
	{Name: "sqlite", URL: SQLiteURL},
	{Name: "postgres", URL: PostgresURL},
	{Name: "mysql", URL: MySQLURL},
}

// SQLiteURL returns a DATABASE_URL to a new SQLite file in a temp dir.
func SQLiteURL(t testing.TB) string {
	return "sqlite://" + filepath.Join(t.TempDir(), "test.db")
}

func randomName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func need(t testing.TB, env, what string) string {
	t.Helper()
	v := os.Getenv(env)
	if v == "" {
		t.Skipf("%s is not set: skipping the %s test (.ci/run sets it)", env, what)
	}
	return v
}

// PostgresURL creates a schema in TEST_DATABASE_URL's database and
// returns a URL whose search_path is that schema; it is dropped at the end.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := need(t, "TEST_DATABASE_URL", "PostgreSQL")
	u, drop, err := NewPostgresSchema(context.Background(), base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := drop(); err != nil {
			t.Error(err)
		}
	})
	return u
}

// NewPostgresSchema creates a schema of its own in base's database and
// returns a URL whose search_path is that schema, and the function that
// drops it. Tools outside tests (make bench) use it too.
func NewPostgresSchema(ctx context.Context, base string) (string, func() error, error) {
	schema := randomName("lk_test_")
	admin, err := openDB(ctx, "pgx", base)
	if err != nil {
		return "", nil, err
	}
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		_ = admin.Close()
		return "", nil, fmt.Errorf("create schema: %w", err)
	}
	drop := func() error {
		defer admin.Close()
		if _, err := admin.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			return fmt.Errorf("drop schema %s: %w", schema, err)
		}
		return nil
	}
	u, err := url.Parse(base)
	if err != nil {
		_ = drop()
		return "", nil, fmt.Errorf("parse %q: %w", base, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), drop, nil
}

// MySQLURL creates a database on TEST_MYSQL_URL's server and returns a URL
// to it; it is dropped at the end.
func MySQLURL(t testing.TB) string {
	t.Helper()
	base := need(t, "TEST_MYSQL_URL", "MySQL/MariaDB")
	dsn, err := db.MySQLDSN(base)
	if err != nil {
		t.Fatalf("TEST_MYSQL_URL: %v", err)
	}
	name := randomName("lk_test_")
	admin := openSQL(t, "mysql", dsn)
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP DATABASE " + name); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
		_ = admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("TEST_MYSQL_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

func openSQL(t testing.TB, driver, dsn string) *sql.DB {
	t.Helper()
	d, err := openDB(context.Background(), driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func openDB(ctx context.Context, driver, dsn string) (*sql.DB, error) {
	d, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", driver, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := d.PingContext(ctx); err != nil {
		_ = d.Close()
		return nil, fmt.Errorf("connect to %s test server: %w", driver, err)
	}
	return d, nil
}

// RedisURL claims a database (1-15) on TEST_REDIS_URL's server and returns
// its URL; it is flushed at the end.
func RedisURL(t testing.TB) string {
	t.Helper()
	base := need(t, "TEST_REDIS_URL", "Redis")
	u, release, err := ClaimRedis(context.Background(), base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := release(); err != nil {
			t.Error(err)
		}
	})
	return u
}

// ClaimRedis claims a database (1-15) on base's server and returns its
// URL and the function that flushes and frees it. A database is claimed
// only when it is empty or was left behind by an earlier test run (it
// carries the marker key), so nothing of anyone else's is ever flushed.
func ClaimRedis(ctx context.Context, base string) (string, func() error, error) {
	opts, err := redis.ParseURL(base)
	if err != nil {
		return "", nil, fmt.Errorf("redis URL: %w", err)
	}
	const claimKey, markerKey = "launchkit:test:claim", "launchkit:test:owned"
	for n := 1; n < 16; n++ {
		if n == opts.DB {
			continue
		}
		o := *opts
		o.DB = n
		c := redis.NewClient(&o)
		// The claim expires, so a crashed run's claim frees itself.
		claimed, err := c.SetNX(ctx, claimKey, randomName("claim-"), time.Hour).Result()
		if err != nil {
			_ = c.Close()
			return "", nil, fmt.Errorf("redis at %s: %w", o.Addr, err)
		}
		if !claimed { // a running test has it
			_ = c.Close()
			continue
		}
		size, err1 := c.DBSize(ctx).Result()
		owned, err2 := c.Exists(ctx, markerKey).Result()
		if err1 != nil || err2 != nil || (size > 1 && owned == 0) {
			_ = c.Del(ctx, claimKey).Err() // someone else's data: leave it alone
			_ = c.Close()
			continue
		}
		if err := c.FlushDB(ctx).Err(); err != nil { // a crashed run's leftovers
			_ = c.Close()
			return "", nil, fmt.Errorf("flush redis db %d: %w", n, err)
		}
		c.Set(ctx, claimKey, "claimed", time.Hour)
		c.Set(ctx, markerKey, "a Launchkit test database", 0)
		release := func() error {
			defer c.Close()
			if err := c.FlushDB(context.Background()).Err(); err != nil {
				return fmt.Errorf("flush redis db %d: %w", n, err)
			}
			return nil
		}
		u, _ := url.Parse(base)
		u.Path = fmt.Sprintf("/%d", n)
		return u.String(), release, nil
	}
	return "", nil, fmt.Errorf("no free Redis database (1-15) on %s", strings.TrimPrefix(base, "redis://"))
}

// MigratedDB opens rawURL with every migration applied; it is closed when
// the test ends (before the database itself is dropped).
func MigratedDB(t testing.TB, rawURL string) *db.DB {
	t.Helper()
	d, err := db.Open(t.Context(), rawURL, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("open %s: %v", rawURL, err)
	}
	t.Cleanup(func() { _ = d.Close() })
	m, err := db.NewMigrator(d, nil)
	if err != nil {
		t.Fatalf("NewMigrator: %v", err)
	}
	if _, err := m.Up(t.Context()); err != nil {
		t.Fatalf("migrate up: %v", err)
	}
	return d
}

// RedisClient opens a client on the Redis at url, closed when the test
// ends.
func RedisClient(t testing.TB, url string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("parse redis URL: %v", err)
	}
	client := redis.NewClient(opts)
	t.Cleanup(func() { _ = client.Close() })
	return client
}
