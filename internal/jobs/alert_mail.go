package jobs

import (
	"github.com/hibiken/asynq"

	"github.com/launchkit/launchkit/internal/alerts"
)

// alertMailTask sends an error mail to the admins (alerts.TaskMail,
// written by internal/alerts): a mail:send with fewer retries.
var alertMailTask = Task{
	Type:    alerts.TaskMail,
	Options: []asynq.Option{asynq.Queue(QueueCritical), asynq.MaxRetry(3)},
	Handle:  (*Handlers).sendMail,
}
