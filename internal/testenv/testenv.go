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
	schema := randomName("lk_test_")
	admin := openSQL(t, "pgx", base)
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		_ = admin.Close()
	})
	return withQuery(t, base, "search_path", schema)
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
	d, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatalf("open %s: %v", driver, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.PingContext(ctx); err != nil {
		t.Fatalf("connect to %s test server: %v", driver, err)
	}
	return d
}

func withQuery(t testing.TB, raw, key, value string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("parse %q: %v", raw, err)
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// RedisURL claims a database (1-15) on TEST_REDIS_URL's server and returns
// its URL; it is flushed at the end. A database is claimed only when it is
// empty or was left behind by an earlier test run (it carries the marker
// key), so nothing of anyone else's is ever flushed.
func RedisURL(t testing.TB) string {
	t.Helper()
	base := need(t, "TEST_REDIS_URL", "Redis")
	opts, err := redis.ParseURL(base)
	if err != nil {
		t.Fatalf("TEST_REDIS_URL: %v", err)
	}
	const claimKey, markerKey = "launchkit:test:claim", "launchkit:test:owned"
	ctx := context.Background()
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
			t.Fatalf("redis at %s: %v", o.Addr, err)
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
			t.Fatalf("flush redis db %d: %v", n, err)
		}
		c.Set(ctx, claimKey, "claimed", time.Hour)
		c.Set(ctx, markerKey, "a Launchkit test database", 0)
		t.Cleanup(func() {
			if err := c.FlushDB(context.Background()).Err(); err != nil {
				t.Errorf("flush redis db %d: %v", n, err)
			}
			_ = c.Close()
		})
		u, _ := url.Parse(base)
		u.Path = fmt.Sprintf("/%d", n)
		return u.String()
	}
	t.Fatalf("no free Redis database (1-15) on %s", strings.TrimPrefix(base, "redis://"))
	return ""
}
