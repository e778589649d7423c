// Package jobs runs Launchkit's background work on asynq: the tasks (one
// file each, listed in Tasks), the queue client the web layer enqueues
// through, and the worker (asynq server plus the periodic-task
// scheduler). It opens no Redis of its own: it is handed a client
// (internal/redisconn).
//
// Imports run one way, from jobs to the domain packages. A task that a
// domain package asks for — account mail (users), an alert (alerts), a
// scaffolded resource's TaskAdded — has its name and payload type in
// that package, which writes it to the outbox in the transaction of its
// change without knowing jobs; jobs imports the package and registers
// the handler. Only the tasks nobody else asks for (mail:send,
// sessions:purge, security-log:purge) are named here. A handler does its work through the
// domain packages' services (Handlers), never on their tables. The Go
// compiler keeps the rule: a domain package jobs imports cannot import
// jobs back.
package jobs

import (
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// Queue names, highest priority first.
const (
	QueueCritical = "critical"
	QueueDefault  = "default"
	QueueLow      = "low"
)

// Queues weighs the queues for the worker: of ten tasks picked, about six
// come from critical, three from default and one from low.
var Queues = map[string]int{QueueCritical: 6, QueueDefault: 3, QueueLow: 1}

// Client enqueues tasks. It is safe for concurrent use.
type Client struct {
	asynq *asynq.Client
	// inspector counts the queues' tasks for Stats (stats.go).
	inspector *asynq.Inspector
	stats     statsCache
}

// NewClient enqueues through rdb; closing rdb is the caller's job.
func NewClient(rdb redis.UniversalClient) *Client {
	return &Client{asynq: asynq.NewClientFromRedisClient(rdb), inspector: asynq.NewInspectorFromRedisClient(rdb)}
}
