// Package db opens the application database from DATABASE_URL (SQLite by
// default, PostgreSQL or MySQL/MariaDB by the URL's scheme) as a gorm.DB,
// and applies the embedded SQL migrations with goose.
//
// SQLite is pure Go (CGO_ENABLED=0 builds): modernc.org/sqlite under
// gorm's libtnb/sqlite dialector. That driver keeps each prepared
// statement and reuses it; glebarez/sqlite's driver parsed every statement
// again on every run, which was a third of a signed-in request's CPU.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	mysqldriver "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"github.com/libtnb/sqlite"
	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	gormlogger "gorm.io/gorm/logger"
	"gorm.io/plugin/dbresolver"
)

// Dialect is the family of SQL a database speaks.
type Dialect string

// The dialects Launchkit supports.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
	MySQL    Dialect = "mysql"
)

// DB is an open application database.
//
// On SQLite it is two pools on the same file, shaped for a web server:
// SQLite lets one connection write at a time, so writes go through a pool
// of exactly one connection (queueing in Go, not sleeping in SQLite's
// busy handler, and taking the write lock at BEGIN so a transaction
// never fails to upgrade), and reads through a pool of several read-only
// connections that WAL lets run beside the writer. Gorm picks the pool
// by statement (gorm.io/plugin/dbresolver). On PostgreSQL and MySQL both
// are the one pool.
//
// Inside a transaction, use only its tx: on SQLite a write through Gorm
// itself would wait for the one connection the transaction holds.
type DB struct {
	// Gorm is what domain code queries through. On SQLite its reads go to
	// ReadSQL and its writes and transactions to SQL.
	Gorm *gorm.DB
	// SQL is the pool as database/sql, for the migrations and the session
	// store's writes. On SQLite it is the one writing connection.
	SQL *sql.DB
	// ReadSQL is the pool for read-only queries: on SQLite, connections
	// opened with query_only; elsewhere the same pool as SQL.
	ReadSQL *sql.DB
	// Dialect says which SQL the database speaks.
	Dialect Dialect
}

// DefaultMaxConns is the size of a PostgreSQL or MySQL pool until
// SetMaxConns says otherwise (DATABASE_MAX_CONNS).
const DefaultMaxConns = 10

// SetMaxConns sets how many connections a PostgreSQL or MySQL pool opens
// at most, and keeps them all when idle. SQLite's pools are shaped by
// Open and left as they are.
func (d *DB) SetMaxConns(n int) {
	if d.Dialect == SQLite {
		return
	}
	d.SQL.SetMaxOpenConns(n)
	d.SQL.SetMaxIdleConns(n)
}

// sqliteReaders is how many read connections a SQLite database gets:
// reads are CPU work in this process, so a few per CPU.
func sqliteReaders() int { return max(4, 2*runtime.GOMAXPROCS(0)) }

// Open connects to the database named by rawURL and checks that it
// answers, giving up when ctx ends or after ten seconds. A SQLite file's
// directory is created when missing.
func Open(ctx context.Context, rawURL string, logger *slog.Logger) (*DB, error) {
	return OpenWith(ctx, rawURL, logger, DefaultTimeouts)
}

// Timeouts bound the waits on a PostgreSQL or MySQL server: opening a
// connection, and a statement (0: no limit). A request's own deadline
// still applies on top of them.
type Timeouts struct {
	Connect, Statement time.Duration
}

// DefaultTimeouts are those of DATABASE_CONNECT_TIMEOUT and
// DATABASE_STATEMENT_TIMEOUT's defaults.
var DefaultTimeouts = Timeouts{Connect: 5 * time.Second, Statement: 30 * time.Second}

// OpenWith is Open with the given timeouts.
func OpenWith(ctx context.Context, rawURL string, logger *slog.Logger, timeouts Timeouts) (_ *DB, err error) {
	dialect, driverName, dsn, err := parseURL(rawURL, timeouts)
	if err != nil {
		return nil, err
	}
	// Connect and ping through database/sql before gorm sees the pool:
	// gorm's own start-up ping and its MySQL version query take no context,
	// so against a server that accepts connections but never answers they
	// would block forever instead of failing within the timeout.
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	d := &DB{Dialect: dialect}
	defer func() {
		if err != nil {
			_ = d.Close()
		}
	}()
	if d.SQL, err = connect(pingCtx, dialect, driverName, dsn.write); err != nil {
		return nil, err
	}
	d.ReadSQL = d.SQL
	// A pool that keeps fewer idle connections than it uses closes and
	// reopens them under load (database/sql keeps two by default), each a
	// new TCP connection, login and set of prepared statements.
	d.SetMaxConns(DefaultMaxConns)
	if dialect != SQLite { // a SQLite connection is a file handle, and :memory: its whole database
		d.SQL.SetConnMaxIdleTime(5 * time.Minute)
		d.SQL.SetConnMaxLifetime(time.Hour) // follow DNS and failovers
	}
	if dialect == SQLite {
		if dsn.read == "" { // :memory: is a database per connection: one is all there can be
			d.SQL.SetMaxOpenConns(1)
		} else {
			d.SQL.SetMaxOpenConns(1)
			d.SQL.SetMaxIdleConns(1)
			if d.ReadSQL, err = connect(pingCtx, dialect, driverName, dsn.read); err != nil {
				return nil, err
			}
			d.ReadSQL.SetMaxOpenConns(sqliteReaders())
			d.ReadSQL.SetMaxIdleConns(sqliteReaders())
		}
	}
	gcfg := &gorm.Config{
		Logger: gormlogger.NewSlogLogger(logger.With("component", "gorm"), gormlogger.Config{
			SlowThreshold:             200 * time.Millisecond,
			LogLevel:                  gormlogger.Warn,
			IgnoreRecordNotFoundError: true,
			ParameterizedQueries:      true, // never log query arguments: they may be personal data
		}),
		TranslateError:       true,
		DisableAutomaticPing: true, // pinged above, within the timeout
		// Prepare each distinct statement once per connection and keep it.
		// pgx already does this for PostgreSQL by itself (its statement
		// cache); for SQLite it saves parsing, for MySQL two round trips.
		PrepareStmt:        dialect != Postgres,
		PrepareStmtMaxSize: 256,
	}
	if d.Gorm, err = gorm.Open(gormDialector(dialect, dsn.write, d.SQL), gcfg); err != nil {
		return nil, fmt.Errorf("open %s database: %w", dialect, err)
	}
	if err := registerCounting(d.Gorm); err != nil {
		return nil, fmt.Errorf("open %s database: %w", dialect, err)
	}
	if d.ReadSQL != d.SQL {
		readers := dbresolver.Register(dbresolver.Config{Replicas: []gorm.Dialector{gormDialector(dialect, dsn.read, d.ReadSQL)}})
		if err := d.Gorm.Use(readers); err != nil {
			return nil, fmt.Errorf("open %s database: read pool: %w", dialect, err)
		}
	}
	return d, nil
}

// connect opens a pool and checks that it answers before ctx ends.
func connect(ctx context.Context, dialect Dialect, driverName, dsn string) (*sql.DB, error) {
	pool, err := sql.Open(driverName, dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", dialect, err)
	}
	if err := pool.PingContext(ctx); err != nil {
		_ = pool.Close()
		return nil, fmt.Errorf("connect to %s database: %w", dialect, err)
	}
	return pool, nil
}

// Ping checks that the database answers, on each pool.
func (d *DB) Ping(ctx context.Context) error {
	if err := d.SQL.PingContext(ctx); err != nil {
		return err
	}
	if d.ReadSQL != d.SQL {
		return d.ReadSQL.PingContext(ctx)
	}
	return nil
}

// Close closes the pools.
func (d *DB) Close() error {
	var errs []error
	if d.ReadSQL != nil && d.ReadSQL != d.SQL {
		errs = append(errs, d.ReadSQL.Close())
	}
	if d.SQL != nil {
		errs = append(errs, d.SQL.Close())
	}
	return errors.Join(errs...)
}

// dsns are the driver DSNs of the writing and the read-only pool; read
// is empty when the database has one pool.
type dsns struct{ write, read string }

// parseURL reads a DATABASE_URL into its dialect and the database/sql
// driver name and DSNs that connect to it, with the timeouts (settings
// the URL makes itself win).
func parseURL(rawURL string, timeouts Timeouts) (dialect Dialect, driverName string, dsn dsns, err error) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return "", "", dsn, errors.New("DATABASE_URL is not a URL (expected sqlite://PATH, postgres://… or mysql://…)")
	}
	switch scheme {
	case "sqlite":
		dsn, err := sqliteDSNs(rest)
		return SQLite, sqlite.DriverName, dsn, err
	case "postgres", "postgresql":
		dsn, err := postgresDSN(rawURL, timeouts)
		return Postgres, "pgx", dsns{write: dsn}, err
	case "mysql":
		dsn, err := MySQLDSN(rawURL)
		if err == nil {
			dsn, err = mysqlTimeouts(dsn, timeouts)
		}
		return MySQL, "mysql", dsns{write: dsn}, err
	}
	return "", "", dsn, fmt.Errorf("DATABASE_URL has unknown scheme %q (expected sqlite, postgres or mysql)", scheme)
}

// gormDialector gives gorm the already-connected pool.
func gormDialector(dialect Dialect, dsn string, pool *sql.DB) gorm.Dialector {
	switch dialect {
	case Postgres:
		return postgres.New(postgres.Config{DSN: dsn, Conn: pool})
	case MySQL:
		return mysql.New(mysql.Config{DSN: dsn, Conn: pool})
	default:
		return &sqlite.Dialector{DSN: dsn, Conn: pool}
	}
}

// sqliteDSNs turns the part after sqlite:// into the DSNs of the writer
// and the readers, with the pragmas a web server wants (any in the URL
// are kept and come first):
//
//   - journal_mode=WAL: readers never block the writer, nor it them;
//   - synchronous=NORMAL: in WAL mode, safe from corruption and fsyncs
//     only at checkpoints; a power cut (not a crash) may lose the last
//     transactions;
//   - busy_timeout=5s: another process's writer (manage, the worker) is
//     waited for, not failed on;
//   - foreign_keys=on, which SQLite leaves off by default;
//   - the writer begins every transaction IMMEDIATE (taking the write
//     lock up front), the readers are query_only.
func sqliteDSNs(rest string) (dsns, error) {
	path, query, _ := strings.Cut(rest, "?")
	if path == "" {
		return dsns{}, errors.New("DATABASE_URL: sqlite:// needs a file path, like sqlite://data/app.db")
	}
	params, err := url.ParseQuery(query)
	if err != nil {
		return dsns{}, fmt.Errorf("DATABASE_URL: bad query string: %w", err)
	}
	memory := path == ":memory:"
	if !memory {
		if dir := filepath.Dir(path); dir != "." {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return dsns{}, fmt.Errorf("create database directory: %w", err)
			}
		}
	}
	pragmas := func(extra ...string) string {
		p := url.Values{}
		for k, vs := range params {
			p[k] = append([]string(nil), vs...)
		}
		for _, e := range extra {
			p.Add("_pragma", e)
		}
		// Times as modernc.org/sqlite writes and reads them for gorm: text
		// with nanoseconds and offset, DATETIME columns read as time.Time.
		for k, v := range map[string]string{"_texttotime": "1", "_inttotime": "1", "_time_format": "sqlite"} {
			if !p.Has(k) {
				p.Set(k, v)
			}
		}
		return p.Encode()
	}
	write := []string{"busy_timeout(5000)", "foreign_keys(1)", "synchronous(NORMAL)"}
	if memory {
		return dsns{write: path + "?" + pragmas(write...)}, nil
	}
	w := pragmas(append([]string{"journal_mode(WAL)"}, write...)...) + "&_txlock=immediate"
	r := pragmas("busy_timeout(5000)", "foreign_keys(1)", "query_only(1)")
	return dsns{write: path + "?" + w, read: path + "?" + r}, nil
}

// postgresDSN adds the timeouts to a postgres:// URL: connect_timeout,
// and statement_timeout, which pgx passes on as a session setting so the
// server itself stops a statement that runs too long.
func postgresDSN(rawURL string, timeouts Timeouts) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", errors.New("DATABASE_URL is not a valid postgres:// URL")
	}
	q := u.Query()
	if !q.Has("connect_timeout") && timeouts.Connect > 0 {
		q.Set("connect_timeout", strconv.Itoa(max(1, int(timeouts.Connect.Seconds()))))
	}
	if !q.Has("statement_timeout") && timeouts.Statement > 0 {
		q.Set("statement_timeout", strconv.FormatInt(timeouts.Statement.Milliseconds(), 10))
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// mysqlTimeouts sets the driver's dial timeout and, for the statement
// timeout, its read and write timeouts: MySQL and MariaDB name their own
// statement limits differently, but a connection that gets no answer for
// that long is dropped either way.
func mysqlTimeouts(dsn string, timeouts Timeouts) (string, error) {
	c, err := mysqldriver.ParseDSN(dsn)
	if err != nil {
		return "", fmt.Errorf("DATABASE_URL: %v", err)
	}
	if c.Timeout == 0 {
		c.Timeout = timeouts.Connect
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = timeouts.Statement
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = timeouts.Statement
	}
	return c.FormatDSN(), nil
}

// MySQLDSN converts mysql://user:pass@host:port/db?param=v into the
// driver's DSN, with the settings Launchkit relies on: times parsed as
// time.Time in UTC and a UTC session time zone.
func MySQLDSN(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", errors.New("DATABASE_URL is not a valid mysql:// URL")
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "3306")
	}
	base := mysqldriver.NewConfig()
	base.Net, base.Addr, base.DBName = "tcp", addr, strings.TrimPrefix(u.Path, "/")
	base.User = u.User.Username()
	base.Passwd, _ = u.User.Password()
	if base.DBName == "" {
		return "", errors.New("DATABASE_URL: mysql:// needs a database name, like mysql://user@host/app")
	}
	// Let the driver read the URL's own options (charset, tls, …) the way
	// its DSN does, then add what Launchkit relies on.
	dsn := base.FormatDSN()
	if u.RawQuery != "" {
		// The driver looks for options after the last "/"; a "?" before it
		// belongs to the password and must not make this an "&".
		sep := "?"
		if strings.Contains(dsn[strings.LastIndex(dsn, "/"):], "?") {
			sep = "&"
		}
		dsn += sep + u.RawQuery
	}
	c, err := mysqldriver.ParseDSN(dsn)
	if err != nil {
		return "", fmt.Errorf("DATABASE_URL: %v", err)
	}
	c.ParseTime = true
	c.Loc = time.UTC
	if c.Params == nil {
		c.Params = map[string]string{}
	}
	if _, set := c.Params["time_zone"]; !set {
		c.Params["time_zone"] = "'+00:00'"
	}
	return c.FormatDSN(), nil
}
