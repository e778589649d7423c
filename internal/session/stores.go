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
// scheduled sessions:purge task, not by a goroutine in every process. On
// SQLite, sessions are read through the read-only pool and written
// through the one writing connection.
func NewDatabaseStore(d *db.DB) (Store, error) {
	switch d.Dialect {
	case db.SQLite:
		return Store{Store: readWriteStore{
			read:  Store{Store: sqlite3store.NewWithCleanupInterval(d.ReadSQL, 0)},
			write: Store{Store: sqlite3store.NewWithCleanupInterval(d.SQL, 0)},
		}}, nil
	case db.Postgres:
		return Store{Store: postgresstore.NewWithCleanupInterval(d.SQL, 0)}, nil
	case db.MySQL:
		return Store{Store: mysqlstore.NewWithCleanupInterval(d.SQL, 0)}, nil
	}
	return Store{}, fmt.Errorf("no session store for %s", d.Dialect)
}

// readWriteStore finds sessions in one store and writes them to another:
// the same table through a database's read and write pools.
type readWriteStore struct{ read, write Store }

var _ scs.IterableCtxStore = readWriteStore{}

func (s readWriteStore) Find(token string) ([]byte, bool, error) { return s.read.Find(token) }

func (s readWriteStore) Commit(token string, b []byte, expiry time.Time) error {
	return s.write.Commit(token, b, expiry)
}

func (s readWriteStore) Delete(token string) error { return s.write.Delete(token) }

func (s readWriteStore) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	return s.read.FindCtx(ctx, token)
}

func (s readWriteStore) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	return s.write.CommitCtx(ctx, token, b, expiry)
}

func (s readWriteStore) DeleteCtx(ctx context.Context, token string) error {
	return s.write.DeleteCtx(ctx, token)
}

func (s readWriteStore) AllCtx(ctx context.Context) (map[string][]byte, error) {
	return s.read.AllCtx(ctx)
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
