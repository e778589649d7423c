package jobs

import (
	"context"
	"time"

	"github.com/hibiken/asynq"
)

// TypeSessionsPurge deletes the expired rows of the database session
// store, the rows of ended sessions from the registry of signed-in
// sessions (user_sessions), and the passkey ceremonies never finished
// (webauthn_challenges), every hour.
const TypeSessionsPurge = "sessions:purge"

// sessionsPurgeTask is tried a few times within its hour, each try
// within five minutes (a DELETE by the indexed expiry): about 25 minutes
// at worst, rather than asynq's 25 retries over some weeks. What a
// failed hour leaves is purged the next hour.
var sessionsPurgeTask = Task{
	Type:    TypeSessionsPurge,
	Options: []asynq.Option{asynq.Queue(QueueLow), asynq.MaxRetry(3), asynq.Timeout(5 * time.Minute)},
	Handle:  (*Handlers).purgeSessions, Schedule: "@hourly",
}

func (h *Handlers) purgeSessions(ctx context.Context, _ *asynq.Task) error {
	n, err := h.Sessions.PurgeExpired(ctx)
	if err != nil {
		return err
	}
	h.Logger.InfoContext(ctx, "expired sessions purged", "count", n)
	if h.Users != nil {
		if n, err = h.Users.PurgeExpiredChallenges(ctx, time.Now()); err != nil {
			return err
		}
		h.Logger.InfoContext(ctx, "expired passkey ceremonies purged", "count", n)
	}
	if h.SessionRegistry == nil {
		return nil
	}
	if n, err = h.SessionRegistry.PurgeEnded(ctx); err != nil {
		return err
	}
	h.Logger.InfoContext(ctx, "ended sessions purged from the registry", "count", n)
	return nil
}
