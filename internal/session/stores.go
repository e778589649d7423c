package session

import (
	"context"
	"errors"
	"fmt"
	"sync"
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

// updater is a store that saves a session only if it still holds it.
type updater interface {
	UpdateCtx(ctx context.Context, token string, b []byte, expiry time.Time) (found bool, err error)
}

// UpdateCtx saves b under token, with expiry, only if the store holds a
// live session under token, in one step: a session ended meanwhile (a
// sign-out elsewhere) stays ended. It reports whether it saved.
func (s Store) UpdateCtx(ctx context.Context, token string, b []byte, expiry time.Time) (bool, error) {
	if u, ok := s.Store.(updater); ok {
		return u.UpdateCtx(ctx, token, b, expiry)
	}
	// A store without a conditional write: look, then write.
	if _, found, err := s.FindCtx(ctx, token); err != nil || !found {
		return false, err
	}
	return true, s.CommitCtx(ctx, token, b, expiry)
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
	return Store{Store: memoryStore{MemStore: memstore.NewWithCleanupInterval(0), mu: new(sync.Mutex)}}
}

// memoryStore is scs's memstore with a conditional save: an update and a
// delete take turns.
type memoryStore struct {
	*memstore.MemStore
	mu *sync.Mutex
}

// Delete implements scs.Store.
func (m memoryStore) Delete(token string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.MemStore.Delete(token)
}

// UpdateCtx implements updater.
func (m memoryStore) UpdateCtx(_ context.Context, token string, b []byte, expiry time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, found, err := m.Find(token); err != nil || !found {
		return false, err
	}
	return true, m.Commit(token, b, expiry)
}

// NewDatabaseStore keeps sessions in the application database's sessions
// table (created by the first migration). Expired rows are removed by the
// scheduled sessions:purge task, not by a goroutine in every process.
// Sessions are found with one prepared statement on the database's read
// pool, and written by the scs store of the dialect.
func NewDatabaseStore(d *db.DB) (Store, error) {
	var write scs.Store
	var find, update string
	switch d.Dialect {
	case db.SQLite:
		write = sqlite3store.NewWithCleanupInterval(d.SQL, 0)
		find = "SELECT data FROM sessions WHERE token = ? AND julianday('now') < expiry"
		update = "UPDATE sessions SET data = ?, expiry = julianday(?) WHERE token = ? AND julianday('now') < expiry"
	case db.Postgres:
		write = postgresstore.NewWithCleanupInterval(d.SQL, 0)
		find = "SELECT data FROM sessions WHERE token = ? AND current_timestamp < expiry"
		update = "UPDATE sessions SET data = $1, expiry = $2 WHERE token = $3 AND current_timestamp < expiry"
	case db.MySQL:
		write = mysqlstore.NewWithCleanupInterval(d.SQL, 0)
		find = "SELECT data FROM sessions WHERE token = ? AND UTC_TIMESTAMP(6) < expiry"
		update = "UPDATE sessions SET data = ?, expiry = ? WHERE token = ? AND UTC_TIMESTAMP(6) < expiry"
	default:
		return Store{}, fmt.Errorf("no session store for %s", d.Dialect)
	}
	return Store{Store: databaseStore{Store: Store{Store: write}, find: d.ReadStmt(find), db: d, update: update}}, nil
}

// databaseStore is a dialect's scs store whose Find — the query of every
// request that carries a session cookie — is a prepared statement on the
// read pool (the same query as the scs store's).
type databaseStore struct {
	Store
	find   *db.Stmt
	db     *db.DB
	update string // the conditional save, as the dialect's store writes expiry
}

// UpdateCtx implements updater: an UPDATE of the live row.
func (s databaseStore) UpdateCtx(ctx context.Context, token string, b []byte, expiry time.Time) (bool, error) {
	var at any = expiry
	switch s.db.Dialect {
	case db.SQLite:
		at = expiry.UTC().Format("2006-01-02T15:04:05.999")
	case db.MySQL:
		at = expiry.UTC()
	}
	res, err := s.db.SQL.ExecContext(ctx, s.update, b, at, token)
	if err != nil {
		return false, fmt.Errorf("save session: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("save session: %w", err)
	}
	if n == 0 && s.db.Dialect == db.MySQL {
		// MySQL counts changed rows, not matched ones: a save of what is
		// stored already changes none. Nothing was written either way.
		_, found, err := s.FindCtx(ctx, token)
		return found, err
	}
	return n > 0, nil
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
	return Store{Store: redisStore{RedisStore: goredisstore.New(client), client: client}}
}

// redisKeyPrefix is where goredisstore keeps sessions.
const redisKeyPrefix = "scs:session:"

// redisStore is scs's goredisstore with a conditional save.
type redisStore struct {
	*goredisstore.RedisStore
	client *redis.Client
}

// UpdateCtx implements updater: SET … XX, which writes only a key that
// exists.
func (r redisStore) UpdateCtx(ctx context.Context, token string, b []byte, expiry time.Time) (bool, error) {
	ttl := time.Until(expiry)
	if ttl < time.Millisecond {
		return false, nil // expired: Redis drops it by itself
	}
	ok, err := r.client.SetXX(ctx, redisKeyPrefix+token, string(b), ttl).Result()
	if err != nil {
		return false, fmt.Errorf("save session: %w", err)
	}
	return ok, nil
}

// Purger deletes the expired rows of the database store. The hourly
// sessions:purge task (internal/jobs) runs it whatever SESSION_STORE
// says, so that rows left from a time the store was the database go too.
type Purger struct{ db *db.DB }

// NewPurger purges the sessions table of d.
func NewPurger(d *db.DB) *Purger { return &Purger{db: d} }

// PurgeExpired deletes expired sessions from the database store and
// returns how many it removed.
func (p *Purger) PurgeExpired(ctx context.Context) (int64, error) {
	query := map[db.Dialect]string{
		db.SQLite:   "DELETE FROM sessions WHERE expiry < julianday('now')",
		db.Postgres: "DELETE FROM sessions WHERE expiry < current_timestamp",
		db.MySQL:    "DELETE FROM sessions WHERE expiry < UTC_TIMESTAMP(6)",
	}[p.db.Dialect]
	res, err := p.db.SQL.ExecContext(ctx, query)
	if err != nil {
		return 0, fmt.Errorf("purge expired sessions: %w", err)
	}
	return res.RowsAffected()
}
