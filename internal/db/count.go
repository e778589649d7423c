package db

import (
	"context"
	"sync/atomic"

	"gorm.io/gorm"
)

// QueryCount counts the statements one piece of work (a request) sends
// through gorm and ReadStmt. The request log line shows it, so an N+1
// query shows up in development; tests hold the signed-in path to it.
type QueryCount struct{ n atomic.Int64 }

type queryCountKey struct{}

// CountQueries returns a context under which statements are counted, and
// their count.
func CountQueries(ctx context.Context) (context.Context, *QueryCount) {
	q := &QueryCount{}
	return context.WithValue(ctx, queryCountKey{}, q), q
}

// N is the number of statements counted so far.
func (q *QueryCount) N() int64 { return q.n.Load() }

func countQuery(ctx context.Context) {
	if ctx == nil {
		return
	}
	if q, ok := ctx.Value(queryCountKey{}).(*QueryCount); ok {
		q.n.Add(1)
	}
}

// registerCounting counts every statement gorm sends, by its context.
func registerCounting(g *gorm.DB) error {
	count := func(tx *gorm.DB) { countQuery(tx.Statement.Context) }
	cb := g.Callback()
	for _, err := range []error{
		cb.Create().Before("gorm:create").Register("launchkit:count", count),
		cb.Query().Before("gorm:query").Register("launchkit:count", count),
		cb.Update().Before("gorm:update").Register("launchkit:count", count),
		cb.Delete().Before("gorm:delete").Register("launchkit:count", count),
		cb.Row().Before("gorm:row").Register("launchkit:count", count),
		cb.Raw().Before("gorm:raw").Register("launchkit:count", count),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}
