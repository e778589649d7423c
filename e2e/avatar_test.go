package e2e_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/launchkit/launchkit/internal/app"
	"github.com/launchkit/launchkit/internal/storage"
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
	if err := os.WriteFile(pic, pngPicture(t, 96, 64), 0o644); err != nil {
		t.Fatal(err)
	}
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

// pngPicture is a w × h opaque PNG of a gradient.
func pngPicture(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{R: uint8(x * 255 / w), G: uint8(y * 255 / h), B: 160, A: 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// givePicture stores a picture and makes it user id's, as the profile
// page would.
func givePicture(t *testing.T, a *app.App, id uint) {
	t.Helper()
	data := pngPicture(t, 64, 64)
	key := storage.NewKey("avatars", "image/png")
	if err := a.Storage.Put(context.Background(), key, bytes.NewReader(data), int64(len(data)), "image/png"); err != nil {
		t.Fatal(err)
	}
	if err := a.Users.SetAvatar(context.Background(), id, key); err != nil {
		t.Fatal(err)
	}
}
