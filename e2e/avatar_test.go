package e2e_test

import (
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestProfilePictureInTheBrowser: a picture chosen in the profile page's
// real file input is sent (the boosted multipart form), shown in the top
// bar, loaded (the page's CSP lets it), and removed again; with no
// problem reported by the browser. A text file refused says why on the
// field.
func TestProfilePictureInTheBrowser(t *testing.T) {
	b := newBrowser(t)
	base, a := site(t, nil)
	if _, err := a.Users.Create(context.Background(), "ada@example.com", "ada's long password"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pic := filepath.Join(dir, "me.png")
	img := image.NewNRGBA(image.Rect(0, 0, 96, 64))
	for y := range 64 {
		for x := range 96 {
			img.SetNRGBA(x, y, color.NRGBA{R: uint8(x * 2), G: uint8(y * 3), B: 160, A: 255})
		}
	}
	f, err := os.Create(pic)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	f.Close()
	text := filepath.Join(dir, "notes.png")
	if err := os.WriteFile(text, []byte("only text, named like a picture\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	signIn(t, b, base, "ada@example.com", "ada's long password")
	b.do(t, chromedp.Navigate(base+"/user/profile"), chromedp.WaitVisible(chromedp.CSS("#avatar")))

	// Refused: the field says why, the page stays.
	b.do(t,
		chromedp.SetUploadFiles(chromedp.CSS("#avatar"), []string{text}),
		chromedp.Click(chromedp.CSS("#profile-form button.button-primary")),
	)
	waitFor(t, b, `!!document.querySelector("#avatar-error")`)

	b.do(t,
		chromedp.SetUploadFiles(chromedp.CSS("#avatar"), []string{pic}),
		chromedp.Click(chromedp.CSS("#profile-form button.button-primary")),
	)
	waitFor(t, b, `(function(i){ return !!i && i.complete && i.naturalWidth === 96 })(document.querySelector(".account-menu img.avatar"))`)
	waitFor(t, b, `(function(i){ return !!i && i.complete && i.naturalWidth > 0 })(document.querySelector("#profile-form img.avatar-lg"))`)
	b.screenshot(t, "profile-picture")

	clickJS(t, b, `#profile-form button[name="remove_avatar"]`)
	waitFor(t, b, `!document.querySelector(".account-menu img.avatar") && !!document.querySelector(".account-menu span.avatar")`)
	for _, p := range b.reported(refusedForm) {
		t.Errorf("the browser reported: %s", p)
	}
}
