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
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/launchkit/launchkit/internal/telemetry"
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
	ctx, span := startSend(ctx, attribute.String("mail.transport", "outbox"))
	err = o.write(ctx, m, msg)
	telemetry.End(span, err) // the error names a file, not a recipient
	return err
}

// write writes msg to a new file in Dir.
func (o *Outbox) write(ctx context.Context, m Message, msg *gomail.Msg) error {
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
	ctx, span := startSend(ctx, attribute.String("mail.transport", "smtp"),
		attribute.String("server.address", s.Host), attribute.Int("server.port", s.Port))
	err = s.send(ctx, msg)
	telemetry.End(span, spanError(err))
	return err
}

// send delivers msg in one SMTP session.
func (s *SMTP) send(ctx context.Context, msg *gomail.Msg) error {
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

// startSend starts the client span of sending one message: how and to
// which server, never to whom nor what (addresses and content are
// personal data, and a message's links are secrets).
func startSend(ctx context.Context, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	return telemetry.Start(ctx, "mail send", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
}

// spanError is what a span may say of an SMTP failure: go-mail's
// SendError lists the recipients it concerns, so only its reason and the
// server's status codes are kept.
func spanError(err error) error {
	var se *gomail.SendError
	if !errors.As(err, &se) {
		return err
	}
	desc := "smtp: " + se.Reason.String()
	if code := se.ErrorCode(); code != 0 {
		desc += " (" + strings.TrimSpace(fmt.Sprintf("%d %s", code, se.EnhancedStatusCode())) + ")"
	}
	return errors.New(desc)
}
