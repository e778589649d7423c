package testenv

import (
	"net/mail"
	"os"
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
