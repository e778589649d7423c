package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/launchkit/launchkit/internal/ratelimit"
	"github.com/launchkit/launchkit/internal/users"
)

// The site's pages that account mail links to (internal/web/routes.go).
const (
	confirmEmailPath   = "/user/confirm-email/"
	resetPasswordPath  = "/user/reset-password/"
	signInPath         = "/user/sign-in"
	forgotPasswordPath = "/user/forgot-password"
)

// mailsPerRecipient is the account mail one address gets, whoever asks
// for it, of each of two kinds: reset links, and the rest (confirmation
// links, already-registered notices). Many clients together cannot flood
// someone's inbox, and only mail that goes out counts: asking for a link
// an address would not get (a confirmation of a confirmed account, a
// reset for none) spends nothing, and confirmations and notices cannot
// use up the reset links. Past the budget the mail is dropped (and
// logged); the reset links sent meanwhile still work (users.MaxLiveTokens
// of them), so whoever spends an address's budget only fills its owner's
// inbox with working links.
var mailsPerRecipient = ratelimit.Limit{Burst: 5, Period: time.Hour}

// decidedOnce marks a task whose mail was let through the budget: its
// retries (a mail server that failed) send without spending again, and a
// run that failed before the budget was asked spent nothing. It outlives
// the task's retries (standardRetries: ten, over some hours).
var decidedOnce = ratelimit.Limit{Burst: 1, Period: 48 * time.Hour}

// mayMail spends one of to's mails of kind's budget and reports whether
// there was one. A task is charged once, however often it runs.
func (h *Handlers) mayMail(ctx context.Context, kind users.AccountMailKind, to string) bool {
	if h.Limits == nil {
		return true
	}
	if id, ok := asynq.GetTaskID(ctx); ok && !h.Limits.Take(ctx, "mail:charged:"+id, decidedOnce).Allowed {
		return true // an earlier run was let through (a refused one ends the task)
	}
	budget := "mail:to:"
	if kind == users.MailResetPassword {
		budget = "mail:reset:to:"
	}
	if h.Limits.Take(ctx, ratelimit.EmailKey(budget, to), mailsPerRecipient).Allowed {
		return true
	}
	h.Logger.InfoContext(ctx, "account mail not sent: the address has had its share for now", "kind", kind, "task_id", taskID(ctx))
	return false
}

// accountMailTask mails an account link or notice (users.AccountMail):
// users writes it to the outbox in the transaction of its change.
var accountMailTask = Task{Type: users.TaskAccountMail, Options: standardRetries(QueueCritical), Handle: (*Handlers).sendAccountMail}

// sendAccountMail handles users.TaskAccountMail: it looks the account up
// now (not when the mail was asked for, so that the asking is alike for
// every address), makes the link's token and sends the mail. A request
// about an address without an account, an inactive one, or (for a
// confirmation) one confirmed meanwhile sends nothing, as does one past
// the address's mail budget (mailsPerRecipient).
func (h *Handlers) sendAccountMail(ctx context.Context, t *asynq.Task) error {
	m, err := payloadOf[users.AccountMail](t)
	if err != nil {
		return err
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
		// A directory-managed account's password is the directory's,
		// and its address came confirmed.
		if !u.Active || u.Directory() || (m.Kind == users.MailConfirmEmail && u.EmailConfirmedAt != nil) || !h.mayMail(ctx, m.Kind, u.Email) {
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
		if !h.mayMail(ctx, m.Kind, m.Email) {
			return nil
		}
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
