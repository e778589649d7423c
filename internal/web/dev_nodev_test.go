//go:build nodev

package web_test

import (
	"testing"

	"github.com/alicebob/miniredis/v2"
)

// TestNodevBuildHasNoDevPages: a build tagged nodev (make build) has no
// development tools, so even with ENV=development and mail in the outbox
// every /dev path is a 404 that shows nothing of the mail.
func TestNodevBuildHasNoDevPages(t *testing.T) {
	t.Parallel()
	// No embedded Redis in this build: a Redis of the test's own.
	s := devSite(t, map[string]string{"REDIS_URL": "redis://" + miniredis.RunT(t).Addr() + "/0"})
	id := s.mailOne()
	for _, path := range []string{"/dev", "/dev/", "/dev/ui", "/dev/mail", "/dev/mail/" + id, "/dev/mail/" + id + "/html", "/dev/mail/" + id + "/source"} {
		s.get(path).status(404).lacks("Hi", "example.com/x")
	}
}
