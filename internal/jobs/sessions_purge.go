package jobs

import (
	"context"

	"github.com/hibiken/asynq"

	"github.com/launchkit/launchkit/internal/session"
)

// TypeSessionsPurge deletes the expired rows of the database session
// store, every hour.
const TypeSessionsPurge = "sessions:purge"

var sessionsPurgeTask = Task{
	Type: TypeSessionsPurge, Options: []asynq.Option{asynq.Queue(QueueLow)},
	Handle: (*Handlers).purgeSessions, Schedule: "@hourly",
}

func (h *Handlers) purgeSessions(ctx context.Context, _ *asynq.Task) error {
	n, err := session.PurgeExpired(ctx, h.DB)
	if err != nil {
		return err
	}
	h.Logger.InfoContext(ctx, "expired sessions purged", "count", n)
	return nil
}
