package jobs

import (
	"context"
	"time"

	"github.com/hibiken/asynq"
)

// TypeSecurityLogPurge deletes the security events older than
// SECURITY_LOG_RETENTION, every day.
const TypeSecurityLogPurge = "security-log:purge"

// securityLogPurgeTask is tried a few times within its day, each try
// within ten minutes (a DELETE by the indexed time); what a failed day
// leaves is purged the next day.
var securityLogPurgeTask = Task{
	Type:    TypeSecurityLogPurge,
	Options: []asynq.Option{asynq.Queue(QueueLow), asynq.MaxRetry(5), asynq.Timeout(10 * time.Minute)},
	Handle:  (*Handlers).purgeSecurityLog, Schedule: "@daily",
}

func (h *Handlers) purgeSecurityLog(ctx context.Context, _ *asynq.Task) error {
	if h.Events == nil || h.SecurityLogRetention <= 0 {
		return nil // nothing to purge with, or nothing to purge by
	}
	n, err := h.Events.Purge(ctx, time.Now().Add(-h.SecurityLogRetention))
	if err != nil {
		return err
	}
	h.Logger.InfoContext(ctx, "old security events purged", "count", n, "retention", h.SecurityLogRetention)
	return nil
}
