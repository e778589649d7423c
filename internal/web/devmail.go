//go:build !nodev

// The development mail viewer, /dev/mail: what the app wrote to
// MAIL_OUTBOX_DIR, newest first, and each message decoded, its links
// clickable (the .eml files are quoted-printable: a long link is broken
// across lines in them). Mounted only in development with the outbox
// mailer (dev.go, routes.go). A message that cannot be shown is answered
// by respond's table (handler.go): a name the outbox does not hold is a
// 404, a file too large or not a mail a 422 that says so.

package web

import (
	"net/http"
	"path/filepath"
	"regexp"

	"github.com/go-chi/chi/v5"

	"github.com/launchkit/launchkit/internal/mail"
)

// devMailListed is how many messages /dev/mail lists, the newest.
const devMailListed = 200

// devMailPageData is the data of templates/pages/dev-mail.html.
type devMailPageData struct {
	Dir      string
	Messages []mail.Entry
	Total    int
}

func (s *Server) devMailPage(w http.ResponseWriter, r *http.Request) error {
	messages, total, err := s.devMail.List(devMailListed)
	if err != nil {
		return err
	}
	return s.render(w, r, http.StatusOK, "pages/dev-mail.html", devMailPageData{Dir: s.devMail.Dir, Messages: messages, Total: total})
}

// devMessagePageData is the data of templates/pages/dev-message.html.
type devMessagePageData struct {
	*mail.Decoded
	// File is where the message is, to open it in a mail client.
	File string
	// Text is the text part in pieces, its links marked.
	Text []textPiece
}

// textPiece is a run of text, or a link.
type textPiece struct {
	Text string
	Link bool
}

// linkPieces cuts text into its links and what lies between them.
func linkPieces(text string) []textPiece {
	var pieces []textPiece
	at := 0
	for _, l := range mail.LinkIndexes(text) {
		if l[0] > at {
			pieces = append(pieces, textPiece{Text: text[at:l[0]]})
		}
		pieces = append(pieces, textPiece{Text: text[l[0]:l[1]], Link: true})
		at = l[1]
	}
	if at < len(text) {
		pieces = append(pieces, textPiece{Text: text[at:]})
	}
	return pieces
}

func (s *Server) devMessagePage(w http.ResponseWriter, r *http.Request) error {
	m, err := s.devMail.Read(chi.URLParam(r, "id"))
	if err != nil {
		return err
	}
	return s.render(w, r, http.StatusOK, "pages/dev-message.html", devMessagePageData{
		Decoded: m, File: filepath.Join(s.devMail.Dir, m.ID), Text: linkPieces(m.Text),
	})
}

// devMailHTMLPolicy is the content security policy of a mail's HTML
// part: a sandbox (an origin of its own, no script, no forms, no plugins;
// links open in a new tab, outside the sandbox), images, styles and fonts
// as mail clients load them, nothing else; framed only by the site's
// message page. Opened on its own, the page is as powerless.
const devMailHTMLPolicy = "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; " +
	"img-src http: https: data:; style-src 'unsafe-inline' http: https:; font-src http: https: data:; " +
	"form-action 'none'; frame-ancestors 'self'"

// leadingDoctype matches a doctype at the start of an HTML document.
var leadingDoctype = regexp.MustCompile(`(?i)^\s*<!doctype[^>]*>`)

// devMessageHTML serves a mail's HTML part, for the sandboxed frame of
// its message page.
func (s *Server) devMessageHTML(w http.ResponseWriter, r *http.Request) error {
	m, err := s.devMail.Read(chi.URLParam(r, "id"))
	if err != nil {
		return err
	}
	if m.HTML == "" {
		return errStatus(http.StatusNotFound, "This message has no HTML part.")
	}
	// Links open in a new tab: in the frame they would load the site
	// inside itself, which its frame-ancestors policy refuses.
	html := m.HTML
	head := leadingDoctype.FindString(html)
	html = head + `<base target="_blank">` + html[len(head):]

	h := w.Header()
	h.Set("Content-Security-Policy", devMailHTMLPolicy)
	h.Set("X-Frame-Options", "SAMEORIGIN")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write([]byte(html))
	return nil
}

// devMessageSource serves a message's file as written, as text.
func (s *Server) devMessageSource(w http.ResponseWriter, r *http.Request) error {
	b, err := s.devMail.Source(chi.URLParam(r, "id"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b)
	return nil
}
