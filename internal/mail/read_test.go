package mail_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/launchkit/launchkit/internal/mail"
)

func TestOutboxReadDecodesWhatSendWrote(t *testing.T) {
	o := &mail.Outbox{Dir: t.TempDir(), Sender: "Launchkit <noreply@example.com>"}
	sent := mail.Message{
		To:      []string{"ada@example.com", "bob@example.com"},
		Subject: "Grüße – confirm your address",
		Text:    "Hello,\n\nopen " + longLink + ".\n\nÜmlauts survive.\n",
		HTML:    `<p>Hello, <a href="` + longLink + `">confirm</a></p>`,
	}
	if err := o.Send(context.Background(), sent); err != nil {
		t.Fatal(err)
	}
	list, total, err := o.List(10)
	if err != nil || total != 1 || len(list) != 1 {
		t.Fatalf("List = %+v, %d, %v", list, total, err)
	}
	raw, err := o.Source(list[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(longLink)) {
		t.Fatalf("the file holds the link unbroken: this test no longer tests decoding\n%s", raw)
	}

	got, err := o.Read(list[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Subject != sent.Subject || got.To != "ada@example.com, bob@example.com" || got.From != "Launchkit <noreply@example.com>" {
		t.Errorf("headers: subject %q, to %q, from %q", got.Subject, got.To, got.From)
	}
	if got.Text != sent.Text || got.HTML != sent.HTML {
		t.Errorf("text %q, html %q; want what was sent", got.Text, got.HTML)
	}
	if got.Date.IsZero() || got.MessageID == "" || len(got.Attachments) != 0 || got.BodyProblem != "" {
		t.Errorf("date %v, message ID %q, attachments %v, problem %q", got.Date, got.MessageID, got.Attachments, got.BodyProblem)
	}
	if !slices.Contains(got.Header, mail.HeaderField{Name: "Subject", Value: sent.Subject}) {
		t.Errorf("header fields %v lack the decoded subject", got.Header)
	}
	if list[0].Subject != sent.Subject || list[0].To != got.To || !list[0].Date.Equal(got.Date) {
		t.Errorf("listing %+v differs from the message", list[0])
	}
}

// foreign is a message as another mailer writes it: nested multiparts,
// base64, an attachment, a Latin-1 encoded subject.
const foreign = "From: =?ISO-8859-1?Q?Andr=E9?= <andre@example.com>\r\n" +
	"To: ada@example.com\r\n" +
	"Subject: =?ISO-8859-1?Q?Caf=E9?=\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=outer\r\n" +
	"\r\n" +
	"--outer\r\n" +
	"Content-Type: multipart/alternative; boundary=inner\r\n" +
	"\r\n" +
	"--inner\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"SGVsbG8gZnJvbSBiYXNlNjQ=\r\n" +
	"--inner\r\n" +
	"Content-Type: text/html; charset=utf-8\r\n" +
	"\r\n" +
	"<p>Hello</p>\r\n" +
	"--inner--\r\n" +
	"--outer\r\n" +
	"Content-Type: application/pdf\r\n" +
	"Content-Disposition: attachment; filename=\"report.pdf\"\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"JVBERi0xLjQK\r\n" +
	"--outer--\r\n"

func TestOutboxReadDecodesOtherMailersMessages(t *testing.T) {
	dir := t.TempDir()
	o := &mail.Outbox{Dir: dir}
	truncated := foreign[:strings.Index(foreign, "--inner\r\nContent-Type: text/html")]
	deep := "Subject: deep\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n"
	for i := range 20 {
		deep += fmt.Sprintf("--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n", i, i+1)
	}
	for name, content := range map[string]string{"foreign.eml": foreign, "truncated.eml": truncated, "deep.eml": deep} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	got, err := o.Read("foreign.eml")
	if err != nil {
		t.Fatal(err)
	}
	if got.From != "André <andre@example.com>" || got.Subject != "Café" || got.To != "ada@example.com" {
		t.Errorf("headers: from %q, subject %q, to %q", got.From, got.Subject, got.To)
	}
	if got.Text != "Hello from base64" || got.HTML != "<p>Hello</p>" || got.BodyProblem != "" {
		t.Errorf("text %q, html %q, problem %q", got.Text, got.HTML, got.BodyProblem)
	}
	if want := []mail.Attachment{{Name: "report.pdf", Type: "application/pdf", Size: 9}}; !slices.Equal(got.Attachments, want) {
		t.Errorf("attachments %+v, want %+v", got.Attachments, want)
	}

	// What could be decoded is kept; what could not is said.
	got, err = o.Read("truncated.eml")
	if err != nil {
		t.Fatal(err)
	}
	if got.Text != "Hello from base64" || got.BodyProblem == "" {
		t.Errorf("truncated: text %q, problem %q", got.Text, got.BodyProblem)
	}
	got, err = o.Read("deep.eml")
	if err != nil || !strings.Contains(got.BodyProblem, "nested more than") {
		t.Errorf("deep: %v, problem %q", err, got.BodyProblem)
	}
}

func TestOutboxReadsOnlyItsOwnMessages(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "outbox")
	o := &mail.Outbox{Dir: dir, Sender: "noreply@example.com"}
	if err := o.Send(context.Background(), welcome); err != nil {
		t.Fatal(err)
	}
	sent, _, err := o.List(1)
	if err != nil || len(sent) != 1 {
		t.Fatalf("List = %v, %v", sent, err)
	}
	write := func(path string, content []byte) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	msg := []byte("Subject: planted\n\nplanted\n")
	write(filepath.Join(parent, "outside.eml"), msg)
	write(filepath.Join(dir, ".hidden.eml"), msg)
	write(filepath.Join(dir, ".1.eml.tmp"), msg)
	write(filepath.Join(dir, "sub.eml", "inner.eml"), msg)
	write(filepath.Join(dir, "notes.txt"), msg)
	write(filepath.Join(dir, "broken.eml"), []byte("no header here\x00\n\nbody"))
	if err := os.Symlink(filepath.Join(parent, "outside.eml"), filepath.Join(dir, "link.eml")); err != nil {
		t.Fatal(err)
	}
	huge, err := os.Create(filepath.Join(dir, "huge.eml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := huge.Truncate(mail.MaxReadBytes + 1); err != nil {
		t.Fatal(err)
	}
	_ = huge.Close()

	for _, tc := range []struct {
		id   string
		want error
	}{
		{"../outside.eml", mail.ErrNoMessage},
		{"..", mail.ErrNoMessage},
		{filepath.Join(parent, "outside.eml"), mail.ErrNoMessage},
		{".hidden.eml", mail.ErrNoMessage},
		{".1.eml.tmp", mail.ErrNoMessage},
		{"sub.eml", mail.ErrNoMessage},
		{"sub.eml/inner.eml", mail.ErrNoMessage},
		{"notes.txt", mail.ErrNoMessage},
		{"link.eml", mail.ErrNoMessage},
		{"", mail.ErrNoMessage},
		{"huge.eml", mail.ErrTooLarge},
		{"broken.eml", mail.ErrUnreadable},
	} {
		if _, err := o.Read(tc.id); !errors.Is(err, tc.want) {
			t.Errorf("Read(%q) = %v, want %v", tc.id, err, tc.want)
		}
	}

	list, total, err := o.List(100)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range list {
		ids = append(ids, e.ID)
		if (e.ID == "broken.eml" || e.ID == "huge.eml") != (e.Problem != "") {
			t.Errorf("%s: problem %q", e.ID, e.Problem)
		}
	}
	want := []string{sent[0].ID, "broken.eml", "huge.eml"}
	slices.Sort(ids)
	slices.Sort(want)
	if total != 3 || !slices.Equal(ids, want) {
		t.Errorf("List = %q (total %d), want %q", ids, total, want)
	}
}

func TestOutboxListIsNewestFirst(t *testing.T) {
	o := &mail.Outbox{Dir: filepath.Join(t.TempDir(), "outbox"), Sender: "noreply@example.com"}
	if list, total, err := o.List(10); err != nil || total != 0 || len(list) != 0 {
		t.Fatalf("before any mail: %v, %d, %v", list, total, err)
	}
	for _, subject := range []string{"first", "second", "third"} {
		if err := o.Send(context.Background(), mail.Message{To: []string{"a@example.com"}, Subject: subject, Text: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	list, total, err := o.List(2)
	if err != nil {
		t.Fatal(err)
	}
	if total != 3 || len(list) != 2 || list[0].Subject != "third" || list[1].Subject != "second" {
		t.Errorf("List(2) = %+v (total %d), want third, second of 3", list, total)
	}
}
