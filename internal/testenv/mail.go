package testenv

import (
	"io"
	"mime"
	"mime/quotedprintable"
	netmail "net/mail"
	"os"
	"strings"
	"testing"

	"github.com/launchkit/launchkit/internal/mail"
)

// ReadEML reads back a plain-text message the outbox mailer wrote.
func ReadEML(t testing.TB, path string) mail.Message {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	msg, err := netmail.ReadMessage(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var body io.Reader = msg.Body
	if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	text, err := io.ReadAll(body)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	to, err := msg.Header.AddressList("To")
	if err != nil {
		t.Fatalf("%s: To: %v", path, err)
	}
	var addrs []string
	for _, a := range to {
		addrs = append(addrs, a.Address)
	}
	return mail.Message{To: addrs, Subject: subject, Text: string(text)}
}
