//go:build nodev

package web_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/launchkit/launchkit/internal/mail"
)

// TestNodevBuildHasNoDevPages: a build tagged nodev (make build) has no
// development tools, so even with ENV=development and mail in the outbox
// every /dev path is a 404 that shows nothing of the mail.
func TestNodevBuildHasNoDevPages(t *testing.T) {
	t.Parallel()
	s := devSite(t, nil)
	if err := s.app.Mailer.Send(context.Background(), mail.Message{To: []string{"ada@example.com"}, Subject: "Hi", Text: "https://example.com/x"}); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(s.app.Config.MailOutboxDir, "*.eml"))
	if len(files) != 1 {
		t.Fatalf("outbox files %q", files)
	}
	id := filepath.Base(files[0])
	for _, path := range []string{"/dev", "/dev/", "/dev/mail", "/dev/mail/" + id, "/dev/mail/" + id + "/html", "/dev/mail/" + id + "/source"} {
		s.get(path).status(404).lacks("Hi", "example.com/x")
	}
}
