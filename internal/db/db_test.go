package db_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mysqldriver "github.com/go-sql-driver/mysql"

	"github.com/launchkit/launchkit/internal/db"
	"github.com/launchkit/launchkit/internal/testenv"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// open opens rawURL and closes it when the test ends (before testenv drops
// the database, since cleanups run last-registered first).
func open(t *testing.T, rawURL string) *db.DB {
	t.Helper()
	d, err := db.Open(t.Context(), rawURL, quietLogger())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// widget is a test-local model exercising the column types domain code
// relies on: text with non-ASCII characters, bytes, booleans and times.
type widget struct {
	ID        uint
	Name      string
	Payload   []byte
	Active    bool
	CreatedAt time.Time
}

func TestGormRoundTrip(t *testing.T) {
	for _, dialect := range testenv.Dialects {
		t.Run(dialect.Name, func(t *testing.T) {
			d := open(t, dialect.URL(t))
			if string(d.Dialect) != dialect.Name {
				t.Fatalf("Dialect = %q, want %q", d.Dialect, dialect.Name)
			}
			g := d.Gorm.WithContext(t.Context())
			if err := g.AutoMigrate(&widget{}); err != nil {
				t.Fatalf("AutoMigrate: %v", err)
			}

			created := time.Date(2024, 2, 29, 23, 30, 15, 0, time.FixedZone("UTC+5", 5*3600))
			w := widget{Name: "Zoë ☃ 🚀", Payload: []byte{0, 1, 0xfe, 0xff}, Active: true, CreatedAt: created}
			if err := g.Create(&w).Error; err != nil {
				t.Fatalf("Create: %v", err)
			}
			if w.ID == 0 {
				t.Fatal("Create left ID at 0")
			}

			var got widget
			if err := g.First(&got, w.ID).Error; err != nil {
				t.Fatalf("First(%d): %v", w.ID, err)
			}
			if got.Name != w.Name || string(got.Payload) != string(w.Payload) || got.Active != w.Active {
				t.Errorf("First = {%q %x %v}, want {%q %x %v}", got.Name, got.Payload, got.Active, w.Name, w.Payload, w.Active)
			}
			if want := created.UTC().Truncate(time.Second); !got.CreatedAt.UTC().Truncate(time.Second).Equal(want) {
				t.Errorf("CreatedAt = %v, want %v", got.CreatedAt.UTC(), want)
			}

			// A map update, so that false is written rather than skipped as a zero value.
			if err := g.Model(&got).Updates(map[string]any{"name": "Renamed", "active": false}).Error; err != nil {
				t.Fatalf("Updates: %v", err)
			}
			var updated widget
			if err := g.First(&updated, w.ID).Error; err != nil {
				t.Fatalf("First after update: %v", err)
			}
			if updated.Name != "Renamed" || updated.Active {
				t.Errorf("after update = {%q %v}, want {\"Renamed\" false}", updated.Name, updated.Active)
			}

			if err := g.Delete(&widget{}, w.ID).Error; err != nil {
				t.Fatalf("Delete: %v", err)
			}
			var n int64
			if err := g.Model(&widget{}).Count(&n).Error; err != nil {
				t.Fatalf("Count: %v", err)
			}
			if n != 0 {
				t.Errorf("Count after delete = %d, want 0", n)
			}
		})
	}
}

func TestOpenRejectsBadURLs(t *testing.T) {
	tests := []struct {
		name, url, wantErr string
	}{
		{"unknown scheme", "oracle://scott@db/orcl", `"oracle"`},
		{"not a URL", "data/app.db", "not a URL"},
		{"sqlite without a path", "sqlite://", "needs a file path"},
		{"sqlite with only a query", "sqlite://?cache=shared", "needs a file path"},
		{"mysql without a database", "mysql://root@127.0.0.1:3306", "needs a database name"},
		{"mysql with an empty database", "mysql://root@127.0.0.1:3306/", "needs a database name"},
		{"sqlite with a bad query string", "sqlite://app.db?cache=%zz", "bad query string"},
		{"sqlite in a directory that cannot be made", "sqlite:///dev/null/app.db", "create database directory"},
		{"mysql with a bad option", "mysql://root@127.0.0.1:3306/test?timeout=soon", `DATABASE_URL: time: invalid duration "soon"`},
		{"postgres with a bad escape", "postgres://postgres:%zz@127.0.0.1/test", "not a valid postgres:// URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := db.Open(t.Context(), tt.url, quietLogger())
			if err == nil {
				_ = d.Close()
				t.Fatalf("Open(%q) succeeded, want an error", tt.url)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Open(%q) error = %q, want it to mention %q", tt.url, err, tt.wantErr)
			}
		})
	}
}

// TestSQLiteInMemoryIsOneDatabase: sqlite://:memory: is a database per
// connection, so it gets one connection: a table made by one statement
// is there for the next, and no file is written.
func TestSQLiteInMemoryIsOneDatabase(t *testing.T) {
	t.Chdir(t.TempDir())
	d := open(t, "sqlite://:memory:")
	if got := d.SQL.Stats().MaxOpenConnections; got != 1 {
		t.Errorf("MaxOpenConnections = %d, want 1", got)
	}
	for i := range 5 {
		if err := d.Gorm.Exec(fmt.Sprintf("CREATE TABLE t%d (x INTEGER)", i)).Error; err != nil {
			t.Fatalf("create table %d: %v", i, err)
		}
	}
	var n int
	if err := d.SQL.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'").Scan(&n); err != nil || n != 5 {
		t.Errorf("tables seen = %d, %v; want all 5 in one database", n, err)
	}
	if files, _ := os.ReadDir("."); len(files) != 0 {
		t.Errorf("an in-memory database wrote %v", files)
	}
}

func TestOpenCreatesSQLiteDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "not", "yet")
	d := open(t, "sqlite://"+filepath.Join(dir, "app.db"))
	if d.Dialect != db.SQLite {
		t.Errorf("Dialect = %q, want sqlite", d.Dialect)
	}
	if err := d.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
	if err := d.Gorm.Exec("CREATE TABLE t (x INTEGER)").Error; err != nil {
		t.Fatalf("create a table: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "app.db")); err != nil {
		t.Errorf("database file: %v", err)
	}
}

func TestOpenFailsOnClosedPort(t *testing.T) {
	for _, url := range []string{
		"postgres://postgres@127.0.0.1:1/test?sslmode=disable",
		"mysql://root@127.0.0.1:1/test",
	} {
		t.Run(strings.SplitN(url, ":", 2)[0], func(t *testing.T) {
			start := time.Now()
			d, err := db.Open(t.Context(), url, quietLogger())
			if err == nil {
				_ = d.Close()
				t.Fatal("Open succeeded against a closed port")
			}
			if elapsed := time.Since(start); elapsed > 15*time.Second {
				t.Errorf("Open took %v to fail, want it bounded by the 10s ping timeout", elapsed)
			}
		})
	}
}

// silentServer accepts TCP connections and never answers: a database host
// that is up but hung, or a port a firewall lets through to nothing.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go func() { _, _ = io.Copy(io.Discard, c) }()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}

// Open must give up when its context ends even if the server accepts the
// connection and then says nothing; otherwise a web process starting
// against a hung database would hang with it instead of failing.
func TestOpenHonoursContextAgainstHungServer(t *testing.T) {
	addr := silentServer(t)
	for _, url := range []string{
		"postgres://postgres@" + addr + "/test?sslmode=disable",
		"mysql://root@" + addr + "/test",
	} {
		t.Run(strings.SplitN(url, ":", 2)[0], func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
			defer cancel()
			done := make(chan error, 1)
			go func() {
				d, err := db.Open(ctx, url, quietLogger())
				if err == nil {
					_ = d.Close()
				}
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("Open succeeded against a server that never answers")
				}
			case <-time.After(20 * time.Second):
				t.Fatal("Open still blocked 20s after its context expired")
			}
		})
	}
}

func TestMySQLDSN(t *testing.T) {
	tests := []struct {
		name     string
		url      string
		addr     string
		user     string
		pass     string
		dbName   string
		params   map[string]string // session variables the DSN must set
		options  []string          // driver options the DSN must keep, as key=value
		timeZone string
	}{
		{
			name: "defaults", url: "mysql://app@db.internal/launchkit",
			addr: "db.internal:3306", user: "app", dbName: "launchkit", timeZone: "'+00:00'",
		},
		{
			name: "keeps URL params", url: "mysql://app:s3cret@db:3307/launchkit?charset=utf8mb4&sql_mode=ANSI_QUOTES",
			addr: "db:3307", user: "app", pass: "s3cret", dbName: "launchkit",
			options: []string{"charset=utf8mb4"}, params: map[string]string{"sql_mode": "ANSI_QUOTES"}, timeZone: "'+00:00'",
		},
		{
			name: "keeps an explicit time zone", url: "mysql://app@db/launchkit?time_zone=%27%2B02%3A00%27",
			addr: "db:3306", user: "app", dbName: "launchkit", timeZone: "'+02:00'",
		},
		{
			name: "escaped password", url: "mysql://app:p%40ss%3Aw%2Frd@db/launchkit",
			addr: "db:3306", user: "app", pass: "p@ss:w/rd", dbName: "launchkit", timeZone: "'+00:00'",
		},
		{
			name: "password with a question mark and params", url: "mysql://app:wh%3Fat@db/launchkit?charset=utf8mb4",
			addr: "db:3306", user: "app", pass: "wh?at", dbName: "launchkit",
			options: []string{"charset=utf8mb4"}, timeZone: "'+00:00'",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dsn, err := db.MySQLDSN(tt.url)
			if err != nil {
				t.Fatalf("MySQLDSN(%q): %v", tt.url, err)
			}
			c, err := mysqldriver.ParseDSN(dsn)
			if err != nil {
				t.Fatalf("the driver cannot parse %q: %v", dsn, err)
			}
			if c.Net != "tcp" || c.Addr != tt.addr || c.User != tt.user || c.Passwd != tt.pass || c.DBName != tt.dbName {
				t.Errorf("got %s(%s) user=%q pass=%q db=%q, want tcp(%s) user=%q pass=%q db=%q",
					c.Net, c.Addr, c.User, c.Passwd, c.DBName, tt.addr, tt.user, tt.pass, tt.dbName)
			}
			if !c.ParseTime {
				t.Error("parseTime is off: DATETIME columns would scan as []byte")
			}
			if c.Loc != time.UTC {
				t.Errorf("loc = %v, want UTC", c.Loc)
			}
			if got := c.Params["time_zone"]; got != tt.timeZone {
				t.Errorf("time_zone = %q, want %q", got, tt.timeZone)
			}
			for k, v := range tt.params {
				if got := c.Params[k]; got != v {
					t.Errorf("param %s = %q, want %q (DSN %q)", k, got, v, dsn)
				}
			}
			for _, o := range tt.options {
				if !strings.Contains(dsn, o) {
					t.Errorf("DSN %q lost %s", dsn, o)
				}
			}
		})
	}
}
