package jobs

import "github.com/hibiken/asynq"

// TypeAlertMail sends an error mail to the admins (internal/alerts): a
// mail:send of its own type, so that its failing for good does not set
// off another alert (and that one another), and with fewer retries — an
// alert that cannot go out within minutes is worth little later.
const TypeAlertMail = "alert:mail"

var alertMailTask = Task{
	Type:    TypeAlertMail,
	Options: []asynq.Option{asynq.Queue(QueueCritical), asynq.MaxRetry(3)},
	Handle:  (*Handlers).sendMail,
}
