package mail_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/launchkit/launchkit/internal/mail"
	"github.com/launchkit/launchkit/internal/testenv"
)

var welcome = mail.Message{To: []string{"ada@example.com"}, Subject: "Welcome", Text: "Hello Ada"}

func TestOutboxWritesOneCompleteEmlPerMessage(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox") // created on first send
	o := &mail.Outbox{Dir: dir, Sender: "Launchkit <noreply@example.com>"}
	for range 3 {
		if err := o.Send(context.Background(), welcome); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 {
		t.Fatalf("outbox holds %d files, want 3 (no temp files left)", len(entries))
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".eml") {
			t.Errorf("unexpected file %s", e.Name())
		}
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		for _, want := range []string{"From: \"Launchkit\" <noreply@example.com>", "To: <ada@example.com>", "Subject: Welcome", "Hello Ada", "Message-ID:", "Date:"} {
			if !strings.Contains(string(b), want) {
				t.Errorf("%s lacks %q:\n%s", e.Name(), want, b)
			}
		}
	}
}

func TestUnsendableMessagesAreRefused(t *testing.T) {
	o := &mail.Outbox{Dir: t.TempDir(), Sender: "noreply@example.com"}
	for _, tc := range []struct {
		msg  mail.Message
		want string
	}{
		{mail.Message{Subject: "s", Text: "t"}, "no recipient"},
		{mail.Message{To: []string{"a@example.com"}, Text: "t"}, "no subject"},
		{mail.Message{To: []string{"a@example.com"}, Subject: "s"}, "no body"},
		{mail.Message{To: []string{"not an address"}, Subject: "s", Text: "t"}, "recipient"},
	} {
		if err := o.Send(context.Background(), tc.msg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Send(%+v) = %v, want an error about %q", tc.msg, err, tc.want)
		}
	}
	bad := &mail.Outbox{Dir: t.TempDir(), Sender: "not a sender"}
	if err := bad.Send(context.Background(), welcome); err == nil || !strings.Contains(err.Error(), "sender") {
		t.Errorf("bad sender: err = %v", err)
	}
}

// smtpServer is the smallest SMTP server go-mail will talk to: no TLS, no
// auth. It records the DATA of the first message.
func smtpServer(t *testing.T) (addr string, data <-chan string) {
	t.Helper()
	addr, data, _ = authSMTPServer(t, false)
	return addr, data
}

// authSMTPServer is smtpServer, offering AUTH PLAIN when auth is set and
// recording the credentials a client sends.
func authSMTPServer(t *testing.T, auth bool) (addr string, data, creds <-chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	got, gotCreds := make(chan string, 1), make(chan string, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		r := bufio.NewReader(conn)
		say := func(s string) { _, _ = conn.Write([]byte(s + "\r\n")) }
		say("220 test ESMTP")
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			cmd := strings.ToUpper(strings.TrimSpace(line))
			switch {
			case strings.HasPrefix(cmd, "EHLO") && auth:
				say("250-test\r\n250-AUTH PLAIN\r\n250 8BITMIME")
			case strings.HasPrefix(cmd, "EHLO"):
				say("250-test\r\n250 8BITMIME")
			case strings.HasPrefix(cmd, "AUTH PLAIN "):
				b, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(line)[len("AUTH PLAIN "):])
				gotCreds <- string(b)
				say("235 authenticated")
			case strings.HasPrefix(cmd, "DATA"):
				say("354 go on")
				var b strings.Builder
				for {
					l, err := r.ReadString('\n')
					if err != nil || l == ".\r\n" {
						break
					}
					b.WriteString(l)
				}
				got <- b.String()
				say("250 queued")
			case strings.HasPrefix(cmd, "QUIT"):
				say("221 bye")
				return
			default:
				say("250 ok")
			}
		}
	}()
	return ln.Addr().String(), got, gotCreds
}

func TestSMTPDeliversTheMessage(t *testing.T) {
	addr, data := smtpServer(t)
	tcp := net.TCPAddrFromAddrPort(netip.MustParseAddrPort(addr))
	s := &mail.SMTP{Host: tcp.IP.String(), Port: tcp.Port, Sender: "noreply@example.com"}
	if err := s.Send(context.Background(), welcome); err != nil {
		t.Fatal(err)
	}
	msg := <-data
	for _, want := range []string{"Subject: Welcome", "To: <ada@example.com>", "Hello Ada"} {
		if !strings.Contains(msg, want) {
			t.Errorf("delivered message lacks %q:\n%s", want, msg)
		}
	}
}

// TestSMTPNeverSendsCredentialsInTheClear: with MAIL_USERNAME set, a
// server on a plain connection offering only AUTH PLAIN (which would
// send the password as it is), or no sign-in at all, gets neither the
// password nor the message: an error says why.
func TestSMTPNeverSendsCredentialsInTheClear(t *testing.T) {
	for offered, want := range map[bool]string{true: "authentication mechanism", false: "does not support SMTP AUTH"} {
		addr, data, creds := authSMTPServer(t, offered)
		tcp := net.TCPAddrFromAddrPort(netip.MustParseAddrPort(addr))
		s := &mail.SMTP{Host: tcp.IP.String(), Port: tcp.Port, Sender: "noreply@example.com", Username: "mailer", Password: "pw-7d1e"}
		if err := s.Send(context.Background(), welcome); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("AUTH PLAIN offered %v: err = %v, want %q", offered, err, want)
		}
		select {
		case got := <-creds:
			t.Errorf("the password went over a plain connection: %q", got)
		case msg := <-data:
			t.Errorf("the message was sent without signing in:\n%s", msg)
		default:
		}
	}
}

func TestSMTPFailureIsAnError(t *testing.T) {
	s := &mail.SMTP{Host: "127.0.0.1", Port: 1, Sender: "noreply@example.com"}
	if err := s.Send(context.Background(), welcome); err == nil || !strings.Contains(err.Error(), "smtp 127.0.0.1:1") {
		t.Errorf("err = %v", err)
	}
}

// TestOutboxSendsAnHTMLOnlyMessage: a message with HTML and no text is
// one text/html part, read back as HTML.
func TestOutboxSendsAnHTMLOnlyMessage(t *testing.T) {
	o := &mail.Outbox{Dir: t.TempDir(), Sender: "noreply@example.com"}
	m := mail.Message{To: []string{"ada@example.com"}, Subject: "Report", HTML: "<p>All <b>green</b></p>"}
	if err := o.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	list, _, err := o.List(1)
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %v, %v", list, err)
	}
	got, err := o.Read(list[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.HTML != m.HTML || got.Text != "" || got.BodyProblem != "" {
		t.Errorf("read back html %q, text %q, problem %q", got.HTML, got.Text, got.BodyProblem)
	}
}

// TestOutboxThatCannotBeWrittenIsAnError: an outbox directory that
// cannot be made (a file is in its place) fails Send, saying so.
func TestOutboxThatCannotBeWrittenIsAnError(t *testing.T) {
	blocked := filepath.Join(t.TempDir(), "outbox")
	if err := os.WriteFile(blocked, []byte("a file"), 0o644); err != nil {
		t.Fatal(err)
	}
	o := &mail.Outbox{Dir: blocked, Sender: "noreply@example.com"}
	if err := o.Send(context.Background(), welcome); err == nil || !strings.HasPrefix(err.Error(), "outbox: ") {
		t.Errorf("Send into a file = %v, want an outbox error", err)
	}
	if _, _, err := o.List(10); err == nil || !strings.HasPrefix(err.Error(), "outbox: ") {
		t.Errorf("List of a file = %v, want an outbox error", err)
	}
}

// TestOutboxWritesTextAndHTMLAsAlternatives: a message with text and HTML
// is written as multipart/alternative, the text part first (a client
// shows the last part it can), and both are read back whole.
func TestOutboxWritesTextAndHTMLAsAlternatives(t *testing.T) {
	o := &mail.Outbox{Dir: t.TempDir(), Sender: "noreply@example.com"}
	m := mail.Message{To: []string{"ada@example.com"}, Subject: "Confirm", Text: "Open https://example.com/c/1\n", HTML: `<p><a href="https://example.com/c/1">Confirm</a></p>`}
	if err := o.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	list, _, err := o.List(1)
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %v, %v", list, err)
	}
	src, err := o.Source(list[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := testenv.MIMEParts(t, src); !slices.Equal(got, []string{"multipart/alternative", "text/plain", "text/html"}) {
		t.Errorf("parts = %q, want multipart/alternative of text/plain and text/html", got)
	}
	got, err := o.Read(list[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Text != m.Text || got.HTML != m.HTML || len(got.Attachments) != 0 || got.BodyProblem != "" {
		t.Errorf("read back text %q, html %q, attachments %v, problem %q", got.Text, got.HTML, got.Attachments, got.BodyProblem)
	}
}
