package testenv

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"strings"
	"testing"

	launchmail "github.com/launchkit/launchkit/internal/mail"
)

// ReadEML reads back a message the outbox mailer wrote: its recipients'
// addresses, its subject and its text and HTML parts, decoded as the
// development mail viewer decodes them (line ends as "\n").
func ReadEML(t testing.TB, path string) launchmail.Message {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d, err := launchmail.Decode(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if d.BodyProblem != "" {
		t.Fatalf("%s: %s", path, d.BodyProblem)
	}
	to, err := mail.ParseAddressList(d.To)
	if err != nil {
		t.Fatalf("%s: To: %v", path, err)
	}
	var addrs []string
	for _, a := range to {
		addrs = append(addrs, a.Address)
	}
	return launchmail.Message{To: addrs, Subject: d.Subject, Text: d.Text, HTML: d.HTML}
}

// MIMEParts lists the media types of a message's source and, when it is
// a multipart, of its parts (one level deep), in order.
func MIMEParts(t testing.TB, src []byte) []string {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	top, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	out := []string{top}
	if !strings.HasPrefix(top, "multipart/") {
		return out
	}
	parts := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := parts.NextPart()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		typ, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		out = append(out, typ)
	}
}
