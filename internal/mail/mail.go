// Package mail sends the application's email. Mailer is the seam: in
// development the Outbox writes each message as an .eml file, in
// production SMTP delivers it. Messages are built with wneessen/go-mail so
// both produce the same bytes. Handlers never send mail directly: they
// enqueue a mail:send task (see internal/jobs).
package mail

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Message is one email to send.
type Message struct {
	To      []string `json:"to"`
	Subject string   `json:"subject"`
	Text    string   `json:"text"`
	HTML    string   `json:"html,omitempty"`
}

// Validate reports what makes m unsendable.
func (m Message) Validate() error {
	if len(m.To) == 0 {
		return errors.New("message has no recipient")
	}
	if m.Subject == "" {
		return errors.New("message has no subject")
	}
	if m.Text == "" && m.HTML == "" {
		return errors.New("message has no body")
	}
	return nil
}

// Mailer delivers messages.
type Mailer interface {
	Send(ctx context.Context, m Message) error
}

// build turns m into a MIME message from sender.
func build(sender string, m Message) (*gomail.Msg, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	msg := gomail.NewMsg()
	if err := msg.From(sender); err != nil {
		return nil, fmt.Errorf("sender %q: %w", sender, err)
	}
	if err := msg.To(m.To...); err != nil {
		return nil, fmt.Errorf("recipient: %w", err)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageID()
	switch {
	case m.Text != "" && m.HTML != "":
		msg.SetBodyString(gomail.TypeTextPlain, m.Text)
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	case m.HTML != "":
		msg.SetBodyString(gomail.TypeTextHTML, m.HTML)
	default:
		msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	}
	return msg, nil
}

// Outbox writes each message as an .eml file in Dir, for development and
// tests: open the file in any mail client, or the development mail viewer
// (/dev/mail), to see what would have been sent.
type Outbox struct {
	Dir    string
	Sender string
	// LinkLog, when set, gets a debug line for each link a message
	// carries, so that a confirmation or reset link can be taken from the
	// terminal. Set it in development only: elsewhere such links are
	// secrets, and logs are read by more people than mail is.
	LinkLog *slog.Logger
}

// Send implements Mailer. The file appears whole or not at all.
func (o *Outbox) Send(ctx context.Context, m Message) error {
	msg, err := build(o.Sender, m)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	name := fmt.Sprintf("%s-%s.eml", time.Now().UTC().Format("20060102T150405.000000000Z"), hex.EncodeToString(suffix))
	tmp := filepath.Join(o.Dir, "."+name+".tmp")
	if err := msg.WriteToFile(tmp); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(o.Dir, name)); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("outbox: %w", err)
	}
	if o.LinkLog != nil {
		for _, link := range m.Links() {
			o.LinkLog.DebugContext(ctx, "mailed link", "to", strings.Join(m.To, ", "), "subject", m.Subject, "link", link, "file", name)
		}
	}
	return nil
}

// SMTP delivers messages through an SMTP server, with STARTTLS when the
// server offers it.
type SMTP struct {
	Host     string
	Port     int
	Username string
	Password string
	Sender   string
}

// Send implements Mailer.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	msg, err := build(s.Sender, m)
	if err != nil {
		return err
	}
	opts := []gomail.Option{
		gomail.WithPort(s.Port),
		gomail.WithTLSPolicy(gomail.TLSOpportunistic),
		gomail.WithTimeout(30 * time.Second),
	}
	if s.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover), gomail.WithUsername(s.Username), gomail.WithPassword(s.Password))
	}
	client, err := gomail.NewClient(s.Host, opts...)
	if err != nil {
		return fmt.Errorf("smtp %s: %w", s.Host, err)
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("smtp %s:%d: %w", s.Host, s.Port, err)
	}
	return nil
}
