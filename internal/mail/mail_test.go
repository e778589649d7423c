package mail_test

import (
	"bufio"
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/launchkit/launchkit/internal/mail"
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	got := make(chan string, 1)
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
			case strings.HasPrefix(cmd, "EHLO"):
				say("250-test\r\n250 8BITMIME")
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
	return ln.Addr().String(), got
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

func TestSMTPFailureIsAnError(t *testing.T) {
	s := &mail.SMTP{Host: "127.0.0.1", Port: 1, Sender: "noreply@example.com"}
	if err := s.Send(context.Background(), welcome); err == nil || !strings.Contains(err.Error(), "smtp 127.0.0.1:1") {
		t.Errorf("err = %v", err)
	}
}
