package web_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// slowBody gives its first half at once and the rest after a pause: an
// upload arriving over a slow connection.
type slowBody struct {
	first, rest *bytes.Reader
	pause       time.Duration
	paused      bool
}

func (b *slowBody) Read(p []byte) (int, error) {
	if b.first.Len() > 0 {
		return b.first.Read(p)
	}
	if !b.paused {
		b.paused = true
		time.Sleep(b.pause)
	}
	return b.rest.Read(p)
}

// TestAnUploadsWorkIsTimedFromItsArrival: REQUEST_TIMEOUT bounds the
// work a request asks for, not the time its file takes to arrive (the
// server's read timeout bounds that): a picture that took longer than
// REQUEST_TIMEOUT to upload is still stored, where it was a 503.
func TestAnUploadsWorkIsTimedFromItsArrival(t *testing.T) {
	t.Parallel()
	s := avatarSite(t, map[string]string{"REQUEST_TIMEOUT": "1s"}, 0)
	ada := s.signedIn("ada@example.com")
	body, contentType := multipartBody(t, []filePart{{"avatar", "me.png", pngOf(t, picture(64, 48, false))}}, "name", "Ada")
	data := body.Bytes()
	r := httptest.NewRequest(http.MethodPost, "/user/profile", io.NopCloser(&slowBody{
		first: bytes.NewReader(data[:len(data)/2]), rest: bytes.NewReader(data[len(data)/2:]), pause: 1500 * time.Millisecond,
	}))
	r.Header.Set("Content-Type", contentType)
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	ada.send(r).status(http.StatusSeeOther)
	if u := s.user("ada@example.com"); u.AvatarKey == "" || u.Name != "Ada" {
		t.Fatalf("after a slow upload: picture %q, name %q", u.AvatarKey, u.Name)
	}
}
