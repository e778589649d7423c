// Package db opens the application database from DATABASE_URL (SQLite by
// default, PostgreSQL or MySQL/MariaDB by the URL's scheme) as a gorm.DB,
// and applies the embedded SQL migrations with goose.
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
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	mysqldriver "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	gormlogger "gorm.io/gorm/logger"
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
type DB struct {
	// Gorm is what domain code queries through.
	Gorm *gorm.DB
	// SQL is the same pool as database/sql, for the session store and
	// the migrations.
	SQL *sql.DB
	// Dialect says which SQL the database speaks.
	Dialect Dialect
}

// Open connects to the database named by rawURL and checks that it
// answers, giving up when ctx ends or after ten seconds. A SQLite file's
// directory is created when missing.
func Open(ctx context.Context, rawURL string, logger *slog.Logger) (*DB, error) {
	dialect, driverName, dsn, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	// Connect and ping through database/sql before gorm sees the pool:
	// gorm's own start-up ping and its MySQL version query take no context,
	// so against a server that accepts connections but never answers they
	// would block forever instead of failing within the timeout.
	sqlDB, err := sql.Open(driverName, dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", dialect, err)
	}
	if dialect == SQLite {
		// One writer at a time is all SQLite allows; a small pool plus
		// busy_timeout keeps readers concurrent without "database is locked".
		sqlDB.SetMaxOpenConns(4)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sqlDB.PingContext(pingCtx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("connect to %s database: %w", dialect, err)
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
	}
	g, err := gorm.Open(gormDialector(dialect, dsn, sqlDB), gcfg)
	if err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("open %s database: %w", dialect, err)
	}
	return &DB{Gorm: g, SQL: sqlDB, Dialect: dialect}, nil
}

// Ping checks that the database answers.
func (d *DB) Ping(ctx context.Context) error { return d.SQL.PingContext(ctx) }

// Close closes the pool.
func (d *DB) Close() error { return d.SQL.Close() }

// parseURL reads a DATABASE_URL into its dialect and the database/sql
// driver name and DSN that connect to it.
func parseURL(rawURL string) (dialect Dialect, driverName, dsn string, err error) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return "", "", "", errors.New("DATABASE_URL is not a URL (expected sqlite://PATH, postgres://… or mysql://…)")
	}
	switch scheme {
	case "sqlite":
		dsn, err := sqliteDSN(rest)
		return SQLite, sqlite.DriverName, dsn, err
	case "postgres", "postgresql":
		return Postgres, "pgx", rawURL, nil
	case "mysql":
		dsn, err := MySQLDSN(rawURL)
		return MySQL, "mysql", dsn, err
	}
	return "", "", "", fmt.Errorf("DATABASE_URL has unknown scheme %q (expected sqlite, postgres or mysql)", scheme)
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

// sqliteDSN turns the part after sqlite:// into a driver DSN with the
// pragmas a web app wants: WAL, a busy timeout and foreign keys.
func sqliteDSN(rest string) (string, error) {
	path, query, _ := strings.Cut(rest, "?")
	if path == "" {
		return "", errors.New("DATABASE_URL: sqlite:// needs a file path, like sqlite://data/app.db")
	}
	params, err := url.ParseQuery(query)
	if err != nil {
		return "", fmt.Errorf("DATABASE_URL: bad query string: %w", err)
	}
	if path != ":memory:" {
		if dir := filepath.Dir(path); dir != "." {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return "", fmt.Errorf("create database directory: %w", err)
			}
		}
		params.Add("_pragma", "journal_mode(WAL)")
	}
	params.Add("_pragma", "busy_timeout(5000)")
	params.Add("_pragma", "foreign_keys(1)")
	return path + "?" + params.Encode(), nil
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
