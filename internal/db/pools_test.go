package db_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/launchkit/launchkit/internal/db"
	"github.com/launchkit/launchkit/internal/testenv"
)

// TestSQLiteIsShapedForAWebServer: WAL, a busy timeout, synchronous=NORMAL,
// one writing connection and several read-only ones, and gorm reading
// through the readers, so a held write lock never stalls a page's reads.
func TestSQLiteIsShapedForAWebServer(t *testing.T) {
	d := open(t, testenv.SQLiteURL(t))
	ctx := t.Context()
	for _, tt := range []struct{ pragma, want string }{
		{"journal_mode", "wal"},
		{"synchronous", "1"}, // NORMAL
		{"busy_timeout", "5000"},
		{"foreign_keys", "1"},
	} {
		var got string
		if err := d.SQL.QueryRowContext(ctx, "PRAGMA "+tt.pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", tt.pragma, err)
		}
		if got != tt.want {
			t.Errorf("writer: PRAGMA %s = %q, want %q", tt.pragma, got, tt.want)
		}
	}
	if n := d.SQL.Stats().MaxOpenConnections; n != 1 {
		t.Errorf("the writing pool allows %d connections, want 1", n)
	}
	if n := d.ReadSQL.Stats().MaxOpenConnections; n < 4 {
		t.Errorf("the reading pool allows %d connections, want at least 4", n)
	}
	if _, err := d.ReadSQL.ExecContext(ctx, "CREATE TABLE nope (id INTEGER)"); err == nil {
		t.Error("a read connection accepted a write: it should be query_only")
	}

	g := d.Gorm.WithContext(ctx)
	if err := g.AutoMigrate(&widget{}); err != nil {
		t.Fatal(err)
	}
	if err := g.Create(&widget{Name: "first"}).Error; err != nil {
		t.Fatal(err)
	}
	// Hold the one writing connection in a write transaction: reads
	// through gorm must still answer, and see committed data.
	tx, err := d.SQL.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, "INSERT INTO widgets (name, active, created_at) VALUES ('uncommitted', 0, CURRENT_TIMESTAMP)"); err != nil {
		t.Fatal(err)
	}
	readCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var names []string
	if err := d.Gorm.WithContext(readCtx).Model(&widget{}).Order("id").Pluck("name", &names).Error; err != nil {
		t.Fatalf("a read while the writer is busy: %v", err)
	}
	if len(names) != 1 || names[0] != "first" {
		t.Errorf("read %v while a write was in progress, want [first]", names)
	}
}

// TestSQLiteWritersQueueInsteadOfFailing: many goroutines writing at once,
// each in transactions that read before they write, all succeed.
func TestSQLiteWritersQueueInsteadOfFailing(t *testing.T) {
	d := open(t, "sqlite://"+filepath.Join(t.TempDir(), "busy.db"))
	g := d.Gorm.WithContext(t.Context())
	if err := g.AutoMigrate(&widget{}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- g.Transaction(func(tx *gorm.DB) error {
				var n int64
				if err := tx.Model(&widget{}).Count(&n).Error; err != nil {
					return err
				}
				return tx.Create(&widget{Name: fmt.Sprintf("w%d-%d", i, n)}).Error
			})
		}()
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	if err := errors.Join(all...); err != nil {
		t.Errorf("concurrent writers failed: %v", err)
	}
	var n int64
	if err := g.Model(&widget{}).Count(&n).Error; err != nil || n != 40 {
		t.Errorf("%d rows (%v), want 40", n, err)
	}
}

// TestPreparedStatements: gorm prepares and keeps statements on SQLite and
// MySQL; PostgreSQL's driver (pgx) caches prepared statements by itself.
func TestPreparedStatements(t *testing.T) {
	for _, dialect := range testenv.Dialects {
		t.Run(dialect.Name, func(t *testing.T) {
			d := open(t, dialect.URL(t))
			_, prepared := d.Gorm.ConnPool.(*gorm.PreparedStmtDB)
			if want := dialect.Name != "postgres"; prepared != want {
				t.Errorf("gorm prepares statements: %v, want %v", prepared, want)
			}
		})
	}
}

// TestPoolsKeepTheirConnections: under concurrent use a PostgreSQL or
// MySQL pool keeps the connections it opened instead of closing all but
// two and reopening them (database/sql's default), and SetMaxConns sizes
// it.
func TestPoolsKeepTheirConnections(t *testing.T) {
	for _, dialect := range testenv.Dialects[1:] {
		t.Run(dialect.Name, func(t *testing.T) {
			d := open(t, dialect.URL(t))
			if n := d.SQL.Stats().MaxOpenConnections; n != db.DefaultMaxConns {
				t.Errorf("the pool allows %d connections, want %d", n, db.DefaultMaxConns)
			}
			d.SetMaxConns(6)
			var wg sync.WaitGroup
			for range 3 {
				for range 12 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if _, err := d.SQL.ExecContext(t.Context(), "SELECT 1"); err != nil {
							t.Error(err)
						}
					}()
				}
				wg.Wait()
			}
			st := d.SQL.Stats()
			if st.MaxOpenConnections != 6 || st.OpenConnections > 6 {
				t.Errorf("after SetMaxConns(6): %+v", st)
			}
			if st.MaxIdleClosed > 0 {
				t.Errorf("the pool closed %d connections for want of idle room, want none", st.MaxIdleClosed)
			}
		})
	}
}

// TestStatementTimeout: a statement running past the statement timeout
// fails instead of holding its connection, on PostgreSQL (the server's
// statement_timeout) and MySQL (the driver's read timeout); a URL's own
// setting wins.
func TestStatementTimeout(t *testing.T) {
	for _, dialect := range testenv.Dialects[1:] {
		t.Run(dialect.Name, func(t *testing.T) {
			d, err := db.OpenWith(t.Context(), dialect.URL(t), quietLogger(), db.Timeouts{Connect: 5 * time.Second, Statement: 300 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = d.Close() })
			sleep := map[string]string{"postgres": "SELECT pg_sleep(2)", "mysql": "SELECT SLEEP(2)"}[dialect.Name]
			start := time.Now()
			_, err = d.SQL.ExecContext(t.Context(), sleep)
			if err == nil || time.Since(start) > 1500*time.Millisecond {
				t.Errorf("a 2s statement with a 300ms timeout: err %v after %s", err, time.Since(start).Round(time.Millisecond))
			}
			if _, err := d.SQL.ExecContext(t.Context(), "SELECT 1"); err != nil {
				t.Errorf("the pool after a timed-out statement: %v", err)
			}
		})
	}
}
