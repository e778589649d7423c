package main

import (
	"bytes"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/launchkit/launchkit/internal/images"
	"github.com/launchkit/launchkit/internal/storage"
)

// TestNoisePNGIsJustUnderTheLimit: the bench's picture is a PNG (by its
// bytes, as the web process sniffs it) as large as UPLOAD_MAX_BYTES's
// default allows and no larger, with far fewer pixels than an upload may
// decode to (images.MaxPixels).
func TestNoisePNGIsJustUnderTheLimit(t *testing.T) {
	picture, err := noisePNG(uploadLimit)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(picture); n > uploadLimit || n < uploadLimit-32<<10 {
		t.Errorf("the picture is %d bytes, want at most %d and within 32 KiB of it", n, uploadLimit)
	}
	if got := storage.Sniff(picture[:storage.SniffLen]); got != "image/png" {
		t.Errorf("the picture sniffs as %s, want image/png", got)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(picture))
	if err != nil {
		t.Fatal(err)
	}
	if px := cfg.Width * cfg.Height; px > images.MaxPixels || px < 3_000_000 {
		t.Errorf("the picture is %d × %d: want some millions of pixels, at most %d", cfg.Width, cfg.Height, images.MaxPixels)
	}
	again, err := noisePNG(uploadLimit)
	if err != nil || !bytes.Equal(again, picture) {
		t.Error("two runs make different pictures: the seed should be fixed")
	}
}

// TestProfileUploadIsTheFormABrowserSends: a server reading the upload
// with net/http's own multipart parsing finds the name field, the file
// field avatar holding the picture to the byte, and the session cookie.
func TestProfileUploadIsTheFormABrowserSends(t *testing.T) {
	picture := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/user/profile" {
			http.Error(w, "wrong route "+r.Method+" "+r.URL.Path, http.StatusNotFound)
			return
		}
		if c, err := r.Cookie("session"); err != nil || c.Value != "abc" {
			http.Error(w, "no session cookie", http.StatusUnauthorized)
			return
		}
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if got := r.FormValue("name"); got != "Uploader 3" {
			http.Error(w, "name "+got, http.StatusUnprocessableEntity)
			return
		}
		f, h, err := r.FormFile("avatar")
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnprocessableEntity)
			return
		}
		defer f.Close()
		got, _ := io.ReadAll(f)
		if !bytes.Equal(got, picture) || h.Filename != "picture.png" || h.Header.Get("Content-Type") != "image/png" {
			http.Error(w, "the file arrived changed", http.StatusUnprocessableEntity)
			return
		}
		http.Redirect(w, r, "/user/profile", http.StatusSeeOther)
	}))
	defer srv.Close()

	form, err := newProfileUpload("Uploader 3", picture)
	if err != nil {
		t.Fatal(err)
	}
	client := newClient(loadSpec{}, 0)
	defer client.CloseIdleConnections()
	// Twice: the picture's bytes are shared, each request reads them anew.
	for range 2 {
		res, err := client.Do(form.request(srv.URL, &http.Cookie{Name: "session", Value: "abc"}))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("status %d (%s), want 303", res.StatusCode, body)
		}
	}
}
