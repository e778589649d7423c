package db

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"sync/atomic"
)

// Stmt is a read query prepared once per connection of the read pool and
// kept, for the few queries every request runs (the session, the signed-
// in user): run through gorm, such a query costs twice what the database
// does with it, and unprepared, its SQL is parsed on every run (on MySQL,
// prepared and closed in two extra round trips).
//
// The query is prepared on first use, not when the Stmt is made: its
// tables may not exist until the migrations have run.
type Stmt struct {
	pool  *sql.DB
	query string
	stmt  atomic.Pointer[sql.Stmt]
}

// ReadStmt makes a Stmt of query on the read pool. Write parameters as ?;
// on PostgreSQL they are rewritten to $1, $2, ….
func (d *DB) ReadStmt(query string) *Stmt {
	if d.Dialect == Postgres {
		query = dollarParams(query)
	}
	return &Stmt{pool: d.ReadSQL, query: query}
}

// Query runs the statement with args.
func (s *Stmt) Query(ctx context.Context, args ...any) (*sql.Rows, error) {
	countQuery(ctx)
	stmt := s.stmt.Load()
	if stmt == nil {
		var err error
		if stmt, err = s.pool.PrepareContext(ctx, s.query); err != nil {
			return nil, err
		}
		if !s.stmt.CompareAndSwap(nil, stmt) { // another request prepared it first
			_ = stmt.Close()
			stmt = s.stmt.Load()
		}
	}
	return stmt.QueryContext(ctx, args...)
}

// dollarParams numbers the ? parameters of query as PostgreSQL's $n.
// Queries given to ReadStmt hold no ? in literals or identifiers.
func dollarParams(query string) string {
	var b strings.Builder
	n := 0
	for _, part := range strings.SplitAfter(query, "?") {
		if p, ok := strings.CutSuffix(part, "?"); ok {
			n++
			b.WriteString(p + "$" + strconv.Itoa(n))
		} else {
			b.WriteString(part)
		}
	}
	return b.String()
}
