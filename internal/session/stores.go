package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/alexedwards/scs/goredisstore"
	"github.com/alexedwards/scs/mysqlstore"
	"github.com/alexedwards/scs/postgresstore"
	"github.com/alexedwards/scs/sqlite3store"
	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/redis/go-redis/v9"

	"github.com/launchkit/launchkit/internal/db"
)

// Store is the session store a Manager keeps its data in.
//
// It passes each request's context on to stores that take one. That is
// not only politeness: scs looks for FindCtx, CommitCtx and DeleteCtx on
// the value it is given, embedding scs.Store would hide them, and the
// Redis store's context-free methods panic.
type Store struct {
	scs.Store
}

var (
	_ scs.CtxStore         = Store{}
	_ scs.IterableCtxStore = Store{}
)

// FindCtx implements scs.CtxStore.
func (s Store) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	if c, ok := s.Store.(scs.CtxStore); ok {
		return c.FindCtx(ctx, token)
	}
	return s.Store.Find(token)
}

// CommitCtx implements scs.CtxStore.
func (s Store) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	if c, ok := s.Store.(scs.CtxStore); ok {
		return c.CommitCtx(ctx, token, b, expiry)
	}
	return s.Store.Commit(token, b, expiry)
}

// DeleteCtx implements scs.CtxStore.
func (s Store) DeleteCtx(ctx context.Context, token string) error {
	if c, ok := s.Store.(scs.CtxStore); ok {
		return c.DeleteCtx(ctx, token)
	}
	return s.Store.Delete(token)
}

// AllCtx implements scs.IterableCtxStore: it returns every live session.
func (s Store) AllCtx(ctx context.Context) (map[string][]byte, error) {
	switch c := s.Store.(type) {
	case scs.IterableCtxStore:
		return c.AllCtx(ctx)
	case scs.IterableStore:
		return c.All()
	}
	return nil, errors.New("session store cannot list its sessions")
}

// NewMemoryStore keeps sessions in this process's memory: for tests and
// single-process development only, since they vanish on restart. It runs
// no cleanup goroutine (scs's memstore cannot stop one without a data
// race); expired sessions are never returned and cost only memory until
// the process exits.
func NewMemoryStore() Store {
	return Store{Store: memstore.NewWithCleanupInterval(0)}
}

// NewDatabaseStore keeps sessions in the application database's sessions
// table (created by the first migration). Expired rows are removed by the
// scheduled sessions:purge task, not by a goroutine in every process.
// Sessions are found with one prepared statement on the database's read
// pool, and written by the scs store of the dialect.
func NewDatabaseStore(d *db.DB) (Store, error) {
	var write scs.Store
	var find string
	switch d.Dialect {
	case db.SQLite:
		write = sqlite3store.NewWithCleanupInterval(d.SQL, 0)
		find = "SELECT data FROM sessions WHERE token = ? AND julianday('now') < expiry"
	case db.Postgres:
		write = postgresstore.NewWithCleanupInterval(d.SQL, 0)
		find = "SELECT data FROM sessions WHERE token = ? AND current_timestamp < expiry"
	case db.MySQL:
		write = mysqlstore.NewWithCleanupInterval(d.SQL, 0)
		find = "SELECT data FROM sessions WHERE token = ? AND UTC_TIMESTAMP(6) < expiry"
	default:
		return Store{}, fmt.Errorf("no session store for %s", d.Dialect)
	}
	return Store{Store: databaseStore{Store: Store{Store: write}, find: d.ReadStmt(find)}}, nil
}

// databaseStore is a dialect's scs store whose Find — the query of every
// request that carries a session cookie — is a prepared statement on the
// read pool (the same query as the scs store's).
type databaseStore struct {
	Store
	find *db.Stmt
}

var _ scs.IterableCtxStore = databaseStore{}

// Find implements scs.Store.
func (s databaseStore) Find(token string) ([]byte, bool, error) {
	return s.FindCtx(context.Background(), token)
}

// FindCtx implements scs.CtxStore.
func (s databaseStore) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	rows, err := s.find.Query(ctx, token)
	if err != nil {
		return nil, false, fmt.Errorf("find session: %w", err)
	}
	defer rows.Close()
	var b []byte
	found := rows.Next()
	if found {
		err = rows.Scan(&b)
	}
	if err == nil {
		err = rows.Err()
	}
	if err != nil {
		return nil, false, fmt.Errorf("find session: %w", err)
	}
	return b, found, nil
}

// NewRedisStore keeps sessions in Redis under the "scs:session:" prefix;
// Redis expires them by itself.
func NewRedisStore(client *redis.Client) Store {
	return Store{Store: goredisstore.New(client)}
}

// PurgeExpired deletes expired sessions from the database store and
// returns how many it removed.
func PurgeExpired(ctx context.Context, d *db.DB) (int64, error) {
	query := map[db.Dialect]string{
		db.SQLite:   "DELETE FROM sessions WHERE expiry < julianday('now')",
		db.Postgres: "DELETE FROM sessions WHERE expiry < current_timestamp",
		db.MySQL:    "DELETE FROM sessions WHERE expiry < UTC_TIMESTAMP(6)",
	}[d.Dialect]
	res, err := d.SQL.ExecContext(ctx, query)
	if err != nil {
		return 0, fmt.Errorf("purge expired sessions: %w", err)
	}
	return res.RowsAffected()
}
