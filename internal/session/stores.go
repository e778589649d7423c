package session

import (
	"context"
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

// Store is a session store and how to stop its background work.
type Store struct {
	scs.Store
	close func()
}

// Close stops the store's cleanup goroutine, if it has one.
func (s Store) Close() {
	if s.close != nil {
		s.close()
	}
}

// NewMemoryStore keeps sessions in this process's memory: for tests and
// single-process development only, since they vanish on restart.
func NewMemoryStore() Store {
	m := memstore.NewWithCleanupInterval(time.Minute)
	return Store{Store: m, close: m.StopCleanup}
}

// NewDatabaseStore keeps sessions in the application database's sessions
// table (created by the first migration). Expired rows are removed by the
// scheduled sessions:purge task, not by a goroutine in every process.
func NewDatabaseStore(d *db.DB) (Store, error) {
	switch d.Dialect {
	case db.SQLite:
		return Store{Store: sqlite3store.NewWithCleanupInterval(d.SQL, 0)}, nil
	case db.Postgres:
		return Store{Store: postgresstore.NewWithCleanupInterval(d.SQL, 0)}, nil
	case db.MySQL:
		return Store{Store: mysqlstore.NewWithCleanupInterval(d.SQL, 0)}, nil
	}
	return Store{}, fmt.Errorf("no session store for %s", d.Dialect)
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
