package e2e_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/launchkit/launchkit/internal/users"
)

// TestReadmeScreenshot writes the README's picture — the signed-in home
// of an admin, 1280×800, light — to the file SCREENSHOT_OUT names (make
// screenshot: docs/screenshot.png). Without SCREENSHOT_OUT it skips.
func TestReadmeScreenshot(t *testing.T) {
	out := os.Getenv("SCREENSHOT_OUT")
	if out == "" {
		t.Skip("SCREENSHOT_OUT is not set: make screenshot writes docs/screenshot.png")
	}
	if testing.Short() {
		t.Skip("browser tests start Chromium: not in -short")
	}
	b := newTimedBrowser(t, 2*time.Minute)
	base, a := site(t, nil)
	ctx := context.Background()
	const pw = "correct horse battery staple"
	admin, err := a.Users.CreateConfirmed(ctx, "ada@example.com", pw, users.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Users.CreateAPIKey(ctx, admin.ID, "Deploy script"); err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"grace", "alan", "edsger", "barbara", "ken", "margaret", "linus"} {
		create := a.Users.CreateConfirmed
		if i%3 == 2 {
			create = a.Users.Create // a few not confirmed yet
		}
		if _, err := create(ctx, name+"@example.com", pw); err != nil {
			t.Fatal(err)
		}
	}

	b.do(t, colorScheme("light"), chromedp.EmulateViewport(1280, 800), chromedp.Navigate(base+"/user/sign-in"))
	settled(t, b)
	submit(t, b, [][2]string{{"email", "ada@example.com"}, {"password", pw}})
	if loc := get(t, b, chromedp.Location()); strings.Contains(loc, "/user/sign-in") {
		t.Fatalf("signing in: still at %s", loc)
	}
	load(t, b, base+"/")
	// No focus ring or caret in the picture.
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.activeElement && document.activeElement.blur && document.activeElement.blur(), 0`)); err != nil {
		t.Fatal(err)
	}
	painted(t, b)
	png := get(t, b, chromedp.CaptureScreenshot())
	if len(png) < 1000 {
		t.Fatalf("a %d-byte screenshot", len(png))
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes)", out, len(png))
	for _, p := range b.reported("") {
		t.Errorf("the browser reported: %s", p)
	}
}
