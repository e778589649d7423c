package mail_test

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/launchkit/launchkit/internal/mail"
)

// longLink is longer than a quoted-printable line: the file breaks it.
const longLink = "http://localhost:8000/user/confirm-email/" + "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCdEfGhIjKlMnOpQrSt.uvwxyz"

func TestLinkIndexes(t *testing.T) {
	for _, tc := range []struct {
		text string
		want []string
	}{
		{"no link here", nil},
		{"open https://example.com/a?b=1&c=2.", []string{"https://example.com/a?b=1&c=2"}},
		{"(see http://x.example/p), then", []string{"http://x.example/p"}},
		{"two: http://a.example/1, http://b.example/2!", []string{"http://a.example/1", "http://b.example/2"}},
		{`<a href="http://a.example/t.ok">x</a>`, []string{"http://a.example/t.ok"}},
		{"ftp://not.example and mailto:a@example.com", nil},
		{"line\nhttp://a.example/x\nnext", []string{"http://a.example/x"}},
	} {
		var got []string
		for _, at := range mail.LinkIndexes(tc.text) {
			got = append(got, tc.text[at[0]:at[1]])
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("LinkIndexes(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
}

// TestOutboxLogsLinksWhenAsked: with LinkLog set, each distinct link of
// a written message gets one debug line; none is written above debug.
func TestOutboxLogsLinksWhenAsked(t *testing.T) {
	m := mail.Message{
		To: []string{"ada@example.com"}, Subject: "Links",
		Text: "reset: " + longLink + "\nsign in: http://localhost:8000/user/sign-in\n",
		HTML: `<a href="` + longLink + `">reset</a>`,
	}
	for _, level := range []slog.Level{slog.LevelDebug, slog.LevelInfo} {
		var logs bytes.Buffer
		o := &mail.Outbox{Dir: t.TempDir(), Sender: "noreply@example.com", LinkLog: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: level}))}
		if err := o.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
		if level != slog.LevelDebug {
			if logs.Len() != 0 {
				t.Errorf("logged at %v:\n%s", level, logs.String())
			}
			continue
		}
		if len(lines) != 2 || !strings.Contains(lines[0], `level=DEBUG msg="mailed link" to=ada@example.com subject=Links link=`+longLink) ||
			!strings.Contains(lines[1], "link=http://localhost:8000/user/sign-in") {
			t.Errorf("want one line for each of the two links:\n%s", logs.String())
		}
	}
}
