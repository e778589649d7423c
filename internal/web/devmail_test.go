//go:build !nodev

package web_test

import (
	"context"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/launchkit/launchkit/internal/mail"
)

var (
	messageHref = regexp.MustCompile(`href="(/dev/mail/[^"/]+)"`)
	anchorHref  = regexp.MustCompile(`<a href="([^"]+)">`)
)

// messagePaths returns the links of a /dev/mail listing to its messages,
// in the order shown.
func messagePaths(r *response) []string {
	var out []string
	for _, m := range messageHref.FindAllStringSubmatch(r.body, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestDevMailViewerShowsTheConfirmationMail: a visitor registers; the
// viewer lists the confirmation mail the worker wrote and shows it with
// the link whole and clickable (in the file, quoted-printable breaks it
// across lines), its HTML part in a frame, and following that link
// confirms the account.
func TestDevMailViewerShowsTheConfirmationMail(t *testing.T) {
	t.Parallel()
	s := devSite(t, nil)
	v := s.visitor()
	v.register("ada@example.com", "correct horse battery").redirectsTo("/")
	v.post("/user/forgot-password", "email", "ada@example.com").redirectsTo("/user/forgot-password?sent=1")
	if n := len(s.mails()); n != 2 {
		t.Fatalf("%d mails in the outbox, want the confirmation and the reset link", n)
	}

	list := s.get("/dev/mail").status(200).contains("<h1>Mail</h1>", "ada@example.com")
	paths := messagePaths(list)
	if len(paths) != 2 {
		t.Fatalf("the listing links to %q, want 2 messages:\n%s", paths, list.body)
	}
	// Newest first: the reset link was asked for last.
	if first, second := strings.Index(list.body, "Choose a new password"), strings.Index(list.body, "Confirm your email address"); first < 0 || second < first {
		t.Errorf("the listing is not newest first:\n%s", list.body)
	}

	page := s.get(paths[1]).status(200).contains("Confirm your email address for Launchkit", "ada@example.com", "noreply@localhost")
	var link string
	for _, m := range anchorHref.FindAllStringSubmatch(page.body, -1) {
		if strings.Contains(m[1], "/user/confirm-email/") {
			link = html.UnescapeString(m[1])
		}
	}
	// The link is whole: what the mail's text says once quoted-printable
	// is undone.
	if mails := s.mails(); link == "" || !slices.Contains(strings.Fields(mails[0].Text), link) {
		t.Fatalf("link on the page %q; the mail says:\n%s", link, mails[0].Text)
	}
	// The mail's HTML part is shown too, in its frame, with the same link.
	page.contains(`<iframe class="mail-html" src="` + paths[1] + `/html"`)
	s.get(paths[1]+"/html").status(200).contains(`href="`+link+`"`, `<meta name="color-scheme" content="light dark">`)
	path, ok := strings.CutPrefix(link, "http://localhost:8000/user/confirm-email/")
	if !ok {
		t.Fatalf("link %q is not the confirmation link", link)
	}
	v.get("/user/confirm-email/" + path).redirectsTo("/")
	v.get("/user/profile").status(200).contains("(confirmed)")
}

// TestDevMailViewerShowsHTMLOnlyInASandbox: a mail's HTML part is never
// put into the site's page: a sandboxed frame loads it from its own
// address, whose policy runs no script even when opened on its own.
func TestDevMailViewerShowsHTMLOnlyInASandbox(t *testing.T) {
	t.Parallel()
	s := devSite(t, nil)
	err := s.app.Mailer.Send(context.Background(), mail.Message{
		To: []string{"grace@example.com"}, Subject: "Newsletter <b>bold</b>",
		Text: "Read it at https://example.com/news?id=1&x=<script>, today.",
		HTML: `<!DOCTYPE html><p>Hello <a href="https://example.com/news">news</a></p><script>parent.document.title="owned"</script>`,
	})
	if err != nil {
		t.Fatal(err)
	}
	paths := messagePaths(s.get("/dev/mail").status(200).contains("Newsletter &lt;b&gt;bold&lt;/b&gt;"))
	if len(paths) != 1 {
		t.Fatalf("listing links to %q", paths)
	}
	s.get(paths[0]).status(200).
		contains(
			`<a href="https://example.com/news?id=1&amp;x=">https://example.com/news?id=1&amp;x=</a>&lt;script&gt;, today.`,
			`<iframe class="mail-html" src="`+paths[0]+`/html" sandbox="allow-popups allow-popups-to-escape-sandbox"`,
		).
		lacks("parent.document", "<script>").
		headerPrefix("Content-Security-Policy", "default-src 'self'")

	frame := s.get(paths[0]+"/html").status(200).
		header("Content-Security-Policy", "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; "+
			"img-src http: https: data:; style-src 'unsafe-inline' http: https:; font-src http: https: data:; "+
			"form-action 'none'; frame-ancestors 'self'").
		header("X-Frame-Options", "SAMEORIGIN").
		headerPrefix("Content-Type", "text/html")
	if want := `<!DOCTYPE html><base target="_blank"><p>Hello`; !strings.HasPrefix(frame.body, want) {
		t.Errorf("HTML part = %q, want it to start %q", frame.body, want)
	}
	s.get(paths[0]+"/source").status(200).headerPrefix("Content-Type", "text/plain").contains("Content-Transfer-Encoding: quoted-printable")
}

// TestDevMailViewerTakesOnlyNamesTheOutboxLists: no path, hidden or
// temporary file, directory or symlink of the outbox directory is read.
func TestDevMailViewerTakesOnlyNamesTheOutboxLists(t *testing.T) {
	t.Parallel()
	s := devSite(t, nil)
	outbox := s.app.Config.MailOutboxDir
	const secret = "the-secret-beside-the-outbox"
	plant := func(path, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("Subject: "+content+"\n\n"+content+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	plant(filepath.Join(outbox, "..", "secret.eml"), secret)
	plant(filepath.Join(outbox, ".hidden.eml"), secret)
	plant(filepath.Join(outbox, ".x.eml.tmp"), secret)
	plant(filepath.Join(outbox, "dir.eml", "inner.eml"), secret)
	plant(filepath.Join(outbox, "notes.txt"), secret)
	if err := os.Symlink(filepath.Join(outbox, "..", "secret.eml"), filepath.Join(outbox, "link.eml")); err != nil {
		t.Fatal(err)
	}
	plant(filepath.Join(outbox, "real.eml"), "a real message")
	s.get("/dev/mail/real.eml").status(200).contains("a real message")
	if paths := messagePaths(s.get("/dev/mail").status(200).lacks(secret)); len(paths) != 1 {
		t.Errorf("the listing shows %q, want only real.eml", paths)
	}

	for _, path := range []string{
		"/dev/mail/..%2Fsecret.eml", "/dev/mail/..%2fsecret.eml/html", "/dev/mail/..%2Fsecret.eml/source",
		"/dev/mail/%2e%2e%2Fsecret.eml", "/dev/mail/..%5Csecret.eml", "/dev/mail/../secret.eml",
		"/dev/mail/.hidden.eml", "/dev/mail/.x.eml.tmp", "/dev/mail/dir.eml", "/dev/mail/dir.eml%2Finner.eml",
		"/dev/mail/link.eml", "/dev/mail/notes.txt", "/dev/mail/missing.eml", "/dev/mail/real.eml%00",
		"/dev/mail/" + strings.Repeat("a", 300) + ".eml",
	} {
		r := s.get(path)
		if r.rec.Code != http.StatusNotFound || strings.Contains(r.body, secret) {
			t.Errorf("GET %s = %d, want a 404 that shows nothing:\n%s", path, r.rec.Code, r.body)
		}
	}
	// The same with the path as a client may send it, undecoded.
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.URL.Path, r.URL.RawPath = "/dev/mail/../secret.eml", ""
	if got := s.do(r); got.rec.Code != http.StatusNotFound || strings.Contains(got.body, secret) {
		t.Errorf("GET /dev/mail/../secret.eml = %d", got.rec.Code)
	}
}

// TestDevMailViewerExplainsFilesItCannotShow: a file that is not a mail,
// or is too large, gets a page that says so (never a 500), and the
// listing still shows every other message.
func TestDevMailViewerExplainsFilesItCannotShow(t *testing.T) {
	t.Parallel()
	s := devSite(t, nil)
	outbox := s.app.Config.MailOutboxDir
	if err := s.app.Mailer.Send(context.Background(), mail.Message{To: []string{"ada@example.com"}, Subject: "Fine", Text: "ok"}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outbox, "broken.eml"), []byte("this is not\x00 a mail header\n\nbody"), 0o644); err != nil {
		t.Fatal(err)
	}
	huge, err := os.Create(filepath.Join(outbox, "huge.eml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := huge.Truncate(mail.MaxReadBytes + 1); err != nil { // sparse: no disk spent
		t.Fatal(err)
	}
	_ = huge.Close()

	s.get("/dev/mail").status(200).contains("Fine", "broken.eml", "headers unreadable")
	s.get("/dev/mail/broken.eml").status(422).contains("could not be read as a mail message")
	s.get("/dev/mail/broken.eml/html").status(422)
	s.get("/dev/mail/huge.eml").status(422).contains("too large for this viewer", "at most 10 MiB")
	s.get("/dev/mail/huge.eml/source").status(422)
}

// TestDevPagesAreAbsentOutsideDevelopment: in production and in tests
// every /dev path is a 404, though mail goes to the outbox there too; in
// development with MAIL_SERVER set, /dev says why there is no viewer.
func TestDevPagesAreAbsentOutsideDevelopment(t *testing.T) {
	t.Parallel()
	for name, newSite := range map[string]func(*testing.T) *site{
		"production": prodSite,
		"test":       func(t *testing.T) *site { return newSite(t, nil) },
	} {
		t.Run(name, func(t *testing.T) {
			s := newSite(t)
			id := s.mailOne()
			for _, path := range []string{"/dev", "/dev/", "/dev/mail", "/dev/mail/" + id, "/dev/mail/" + id + "/html", "/dev/mail/" + id + "/source", "/dev/ui"} {
				s.get(path).status(404).lacks("Hi", "example.com/x")
			}
		})
	}

	dev := devSite(t, nil)
	dev.get("/dev").status(200).contains(`<a href="/dev/mail">Mail</a>`)
	dev.get("/dev/").status(200)
	smtp := devSite(t, map[string]string{"MAIL_SERVER": "smtp.example.com"})
	smtp.get("/dev").status(200).contains("Not available: MAIL_SERVER is set").lacks(`href="/dev/mail"`)
	smtp.get("/dev/mail").status(404)
}

// TestDevPagesAnswerOnlyOnThisMachine: the development tools show every
// reset link, so they answer only a client on this machine that asks for
// a loopback name: not a client elsewhere (make run listens on every
// interface), nor a page the developer visits that rebinds its own name
// to 127.0.0.1.
func TestDevPagesAnswerOnlyOnThisMachine(t *testing.T) {
	t.Parallel()
	s := devSite(t, nil)
	s.visitor().post("/user/forgot-password", "email", "boss@example.com").redirectsTo("/user/forgot-password?sent=1")
	for _, tc := range []struct {
		peer, host string
		want       int
	}{
		{"127.0.0.1:50000", "localhost:8000", 200},
		{"127.0.0.1:50000", "127.0.0.1:8000", 200},
		{"[::1]:50000", "[::1]:8000", 200},
		{"127.0.0.1:50000", "app.localhost:8000", 200},
		{"203.0.113.66:50000", "localhost:8000", 404},
		{"192.168.1.20:50000", "192.168.1.10:8000", 404},
		{"127.0.0.1:50000", "rebound.attacker.example", 404},
		{"127.0.0.1:50000", "localhost.attacker.example:8000", 404},
	} {
		for _, path := range []string{"/dev", "/dev/mail"} {
			r := httptest.NewRequest(http.MethodGet, path, nil)
			r.RemoteAddr, r.Host = tc.peer, tc.host
			got := s.do(r)
			if got.rec.Code != tc.want {
				t.Errorf("GET %s from %s for %s = %d, want %d", path, tc.peer, tc.host, got.rec.Code, tc.want)
			}
			if tc.want == 404 && strings.Contains(got.body, "reset-password") {
				t.Errorf("GET %s from %s for %s shows a reset link", path, tc.peer, tc.host)
			}
		}
	}
}
