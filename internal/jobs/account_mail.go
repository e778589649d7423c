package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/launchkit/launchkit/internal/users"
)

// The site's pages that account mail links to (internal/web/routes.go).
const (
	confirmEmailPath   = "/user/confirm-email/"
	resetPasswordPath  = "/user/reset-password/"
	signInPath         = "/user/sign-in"
	forgotPasswordPath = "/user/forgot-password"
)

// accountMailOptions are the queue options of a users.TaskAccountMail.
var accountMailOptions = []asynq.Option{asynq.Queue(QueueCritical), asynq.MaxRetry(10), asynq.Timeout(2 * time.Minute)}

// sendAccountMail handles users.TaskAccountMail: it looks the account up
// now (not when the mail was asked for, so that the asking is alike for
// every address), makes the link's token and sends the mail. A request
// about an address without an account, an inactive one, or (for a
// confirmation) one confirmed meanwhile sends nothing.
func (h *Handlers) sendAccountMail(ctx context.Context, t *asynq.Task) error {
	var m users.AccountMail
	if err := json.Unmarshal(t.Payload(), &m); err != nil {
		return fmt.Errorf("%s payload: %v: %w", users.TaskAccountMail, err, asynq.SkipRetry)
	}
	data := map[string]any{"AppName": h.AppName, "Email": m.Email}
	to := m.Email
	template := string(m.Kind)
	switch m.Kind {
	case users.MailConfirmEmail, users.MailResetPassword:
		u, err := h.Users.AccountFor(ctx, m)
		if errors.Is(err, users.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if !u.Active || (m.Kind == users.MailConfirmEmail && u.EmailConfirmedAt != nil) {
			return nil
		}
		purpose, path, ttl := users.PurposeConfirmEmail, confirmEmailPath, users.ConfirmLinkTTL
		if m.Kind == users.MailResetPassword {
			purpose, path, ttl = users.PurposeResetPassword, resetPasswordPath, users.ResetLinkTTL
		}
		token, err := h.Users.IssueToken(ctx, u.ID, purpose, ttl)
		if err != nil {
			return err
		}
		to = u.Email
		data["Email"], data["Link"], data["Expires"] = u.Email, h.BaseURL+path+token, humanDuration(ttl)
	case users.MailAlreadyRegistered:
		data["SignIn"], data["ForgotPassword"] = h.BaseURL+signInPath, h.BaseURL+forgotPasswordPath
	default:
		return fmt.Errorf("%s: unknown kind %q: %w", users.TaskAccountMail, m.Kind, asynq.SkipRetry)
	}
	msg, err := h.Templates.Message(template, to, data)
	if err != nil {
		return fmt.Errorf("%s: %v: %w", users.TaskAccountMail, err, asynq.SkipRetry)
	}
	if err := h.Mailer.Send(ctx, msg); err != nil {
		return err // retried with asynq's backoff
	}
	h.Logger.InfoContext(ctx, "account mail sent", "kind", m.Kind, "task_id", taskID(ctx))
	return nil
}

// humanDuration says 1h as "1 hour" and 48h as "48 hours".
func humanDuration(d time.Duration) string {
	if h := int(d.Hours()); h == 1 {
		return "1 hour"
	} else if time.Duration(h)*time.Hour == d {
		return fmt.Sprintf("%d hours", h)
	}
	return d.String()
}

// TaskOptions are the queue options of each task type that is written to
// the outbox.
func TaskOptions(taskType string) []asynq.Option {
	if taskType == users.TaskAccountMail {
		return accountMailOptions
	}
	return []asynq.Option{asynq.Queue(QueueDefault)}
}
