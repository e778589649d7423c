package web_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// rawMultipart posts body, a multipart form written by hand, to the
// profile page with the boundary "b".
func (v *visitor) rawMultipart(body string) *response {
	v.s.t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/user/profile", strings.NewReader(body))
	r.Header.Set("Content-Type", "multipart/form-data; boundary=b")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	return v.send(r)
}

// part is one part of a hand-written multipart body (boundary "b").
func part(disposition, contentType, data string) string {
	s := "--b\r\nContent-Disposition: " + disposition + "\r\n"
	if contentType != "" {
		s += "Content-Type: " + contentType + "\r\n"
	}
	return s + "\r\n" + data + "\r\n"
}

// leftovers lists the files in dir.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestMultipartTricks: THE ATTACK. Hand-written multipart bodies that a
// browser never sends get a clear 4xx (never a 500), save nothing, and
// leave no temporary file behind (TMPDIR is the test's own: the test is
// not parallel for that).
func TestMultipartTricks(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	s := avatarSite(t, nil, 64<<10)
	ada := s.signedIn("ada@example.com")
	png := string(pngOf(t, picture(20, 20, false)))
	file := func(name string) string {
		return part(`form-data; name="`+name+`"; filename="me.png"`, "image/png", png)
	}
	field := func(name, value string) string { return part(`form-data; name="`+name+`"`, "", value) }
	for _, tc := range []struct {
		name   string
		body   string
		status int
	}{
		{"two pictures", field("name", "X") + file("avatar") + file("avatar") + "--b--\r\n", 400},
		{"a file under a text field's name", file("name") + "--b--\r\n", 400},
		{"a file under an unknown name", file("other") + field("name", "X") + "--b--\r\n", 400},
		{"text under the file's name", field("avatar", "just text") + field("name", "X") + "--b--\r\n", 422},
		{"too many parts", strings.Repeat(field("x", "1"), 100) + "--b--\r\n", 400},
		{"a nested multipart", part(`form-data; name="avatar"; filename="a.png"`, "multipart/mixed; boundary=c", "--c\r\n\r\n"+png+"\r\n--c--") + field("name", "X") + "--b--\r\n", 422},
		{"stops mid-part", field("name", "X") + "--b\r\nContent-Disposition: form-data; name=\"avatar\"; filename=\"a.png\"\r\n\r\n" + png[:40], 400},
		{"no closing boundary", field("name", "X") + file("avatar"), 400},
		{"no parts at all", "--b--\r\n", 303},
		{"garbage", "this is not multipart at all", 400},
		{"a body over the limit in text fields", field("name", strings.Repeat("a", 70<<10)) + "--b--\r\n", 413},
		{"a picture over the limit", field("name", "X") + part(`form-data; name="avatar"; filename="a.png"`, "", png+strings.Repeat("\x00", 70<<10)) + "--b--\r\n", 413},
		{"a control character in a field", field("name", "a\x00b") + "--b--\r\n", 400},
		{"a nameless part", part(`form-data`, "", "x") + field("name", "X") + "--b--\r\n", 303},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ada.rawMultipart(tc.body).rec.Code; got != tc.status {
				t.Errorf("status %d, want %d", got, tc.status)
			}
			if left := leftovers(t, tmp); len(left) > 0 {
				t.Errorf("temporary files left behind: %v", left)
			}
			if u := s.user("ada@example.com"); u.AvatarKey != "" {
				t.Errorf("a picture saved: %s", u.AvatarKey)
			}
		})
	}
	// The file before the name, the name after it: both are taken.
	ada.rawMultipart(file("avatar") + field("name", "Ada") + "--b--\r\n").redirectsTo("/user/profile")
	if u := s.user("ada@example.com"); u.AvatarKey == "" || u.Name != "Ada" {
		t.Errorf("key %q, name %q", u.AvatarKey, u.Name)
	}
	if left := leftovers(t, tmp); len(left) > 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
	// No boundary in the Content-Type.
	r := httptest.NewRequest(http.MethodPost, "/user/profile", strings.NewReader(file("avatar")))
	r.Header.Set("Content-Type", "multipart/form-data")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	ada.send(r).status(400)
}

// sendRaw writes a request by hand to the site served on loopback: head
// (the request line and headers, without the blank line that ends
// them), a Content-Length of declared, then body, after which the
// client stops sending; it returns the response, and whether the server
// closed the connection after it.
func (v *visitor) sendRaw(t *testing.T, addr, head string, declared int, body string) (*http.Response, bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	var cookies []string
	for _, ck := range v.cookies {
		cookies = append(cookies, ck.Name+"="+ck.Value)
	}
	req := head + "\r\nHost: " + addr + "\r\nSec-Fetch-Site: same-origin\r\nCookie: " + strings.Join(cookies, "; ") +
		fmt.Sprintf("\r\nContent-Length: %d\r\n\r\n", declared) + body
	// Written while the response is read: a server that stops reading
	// may answer before it has all (the write then fails, as a
	// browser's does).
	go func() {
		if _, err := io.WriteString(c, req); err == nil && declared > len(body) {
			_ = c.(*net.TCPConn).CloseWrite()
		}
	}()
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	_, err = br.ReadByte()
	return resp, err == io.EOF
}

// TestATruncatedUploadSavesNothing: THE ATTACK (or a client whose
// connection drops). Over a real connection, a body that ends before the
// Content-Length it declared, in a part's bytes or in its headers, is a
// 400: nothing is saved (the name neither), no temporary file is left.
// A body over the limit is a 413 that closes the connection rather than
// reading on.
func TestATruncatedUploadSavesNothing(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	s := avatarSite(t, nil, 64<<10)
	ada := s.signedIn("ada@example.com")
	srv := httptest.NewServer(s.handler)
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	png := string(pngOf(t, picture(20, 20, false)))
	head := "POST /user/profile HTTP/1.1\r\nContent-Type: multipart/form-data; boundary=b"
	name := part(`form-data; name="name"`, "", "Mallory")
	for _, body := range []string{
		name + "--b\r\nContent-Disposition: form-data; name=\"avatar\"; filename=\"a.png\"\r\n\r\n" + png[:40],
		name + "--b\r\nContent-Disposition: form-da",
		name,
	} {
		resp, _ := ada.sendRaw(t, addr, head, len(body)+1000, body)
		if resp.StatusCode != 400 {
			t.Errorf("a body cut short after %d bytes: %d, want 400", len(body), resp.StatusCode)
		}
		if u := s.user("ada@example.com"); u.Name != "" || u.AvatarKey != "" {
			t.Errorf("saved: name %q, key %q", u.Name, u.AvatarKey)
		}
		if left := leftovers(t, tmp); len(left) > 0 {
			t.Errorf("temporary files left behind: %v", left)
		}
	}
	// Over the limit by far: 413, and the connection is closed rather
	// than the rest read (a little more than the limit, Go's server
	// reads to keep the connection).
	big := name + part(`form-data; name="avatar"; filename="a.png"`, "", png+strings.Repeat("x", 4<<20)) + "--b--\r\n"
	resp, closed := ada.sendRaw(t, addr, head, len(big), big)
	if resp.StatusCode != 413 || !closed {
		t.Errorf("a picture over the limit: %d, connection closed %v", resp.StatusCode, closed)
	}
	if left := leftovers(t, tmp); len(left) > 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

// TestTheGateLetsThroughTheOwnPictureOnly: THE ATTACK. An admin held to
// the security page by MFA_REQUIRED_ROLES dresses other addresses up as
// their own picture's (dot segments, escaped slashes, doubled slashes):
// none reaches a page; each is a 404 or the way to the security page.
func TestTheGateLetsThroughTheOwnPictureOnly(t *testing.T) {
	t.Parallel()
	s := avatarSite(t, map[string]string{"MFA_REQUIRED_ROLES": "admin"}, 0)
	admin := s.signedIn("root@example.com", "admin")
	id := s.user("root@example.com").ID
	p := fmt.Sprintf("/users/%d/avatar", id)
	for _, path := range []string{
		p + "/64/../../../admin/users",
		p + "/../../../admin/users",
		p + "/..%2F..%2F..%2Fadmin%2Fusers",
		p + "%2F..%2F..%2F..%2Fadmin%2Fusers",
		p + "/64%2F..%2F..%2F..%2F..%2Fadmin%2Fusers",
		p + "/%2e%2e/%2e%2e/%2e%2e/admin/users",
		p + "/64/",
		p + "//64",
		fmt.Sprintf("/users/%d//avatar/64", id),
		fmt.Sprintf("/users/%d/avatar/64;/admin/users", id),
		fmt.Sprintf("/users/0%d/avatar/64", id),
		fmt.Sprintf("/users/%d/avatar/64/../../../../user/profile", id),
	} {
		r := admin.get(path)
		if c := r.rec.Code; c != 404 && !(c == 303 && r.rec.Header().Get("Location") == "/user/security") {
			t.Errorf("GET %s: %d %s", path, c, r.rec.Header().Get("Location"))
		}
		if c := r.rec.Code; c == 404 && !strings.Contains(r.body, "<title>404 Not Found") {
			t.Errorf("GET %s shows a page: %.300s", path, r.body)
		}
	}
}

// TestAPartWithEnormousHeaders: a part's headers are bounded like its
// text (they are held in memory, not streamed to a file): a part with a
// megabyte of headers is refused.
func TestAPartWithEnormousHeaders(t *testing.T) {
	t.Parallel()
	s := avatarSite(t, nil, 0)
	ada := s.signedIn("ada@example.com")
	body := "--b\r\nContent-Disposition: form-data; name=\"name\"\r\n"
	for i := range 1000 {
		body += fmt.Sprintf("X-Padding-%d: %s\r\n", i, strings.Repeat("p", 1000))
	}
	body += "\r\nAda\r\n--b--\r\n"
	var r *response
	n := allocatedBy(func() { r = ada.rawMultipart(body) })
	t.Logf("%d bytes of headers: %d, %d KB allocated", len(body), r.rec.Code, n>>10)
	if r.rec.Code != 400 && r.rec.Code != 413 && r.rec.Code != 431 {
		t.Errorf("a part with %d bytes of headers: %d", len(body), r.rec.Code)
	}
}

// allocatedBy is how many bytes fn allocates (other tests running at
// once included: an upper bound).
func allocatedBy(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestTheRefusalsOfAPictureLookAlike: THE ATTACK. Whether a user has a
// picture, and whether an ID is a user's, is not told by the 404s of
// /users/{id}/avatar/{size}: another's picture, one's own missing
// picture and an unknown user's answer with the same headers and the
// same page, none kept by any cache; after signing out, the address of
// one's own picture is the same 404 too.
func TestTheRefusalsOfAPictureLookAlike(t *testing.T) {
	t.Parallel()
	s := avatarSite(t, nil, 0)
	ada := s.signedIn("ada@example.com")
	ada.uploadAvatar("ada.png", pngOf(t, picture(20, 20, false))).redirectsTo("/user/profile")
	u := s.user("ada@example.com")
	bob := s.signedIn("bob@example.com")
	bobID := s.user("bob@example.com").ID
	shape := func(r *response) string {
		h := r.rec.Header()
		var keys []string
		for k := range h {
			if k != "X-Request-Id" && k != "Set-Cookie" {
				keys = append(keys, k+"="+h.Get(k))
			}
		}
		slices.Sort(keys)
		body := regexp.MustCompile(`[0-9a-f]{16,}|[A-Za-z0-9_-]{20,}`).ReplaceAllString(r.body, "")
		return fmt.Sprintf("%d %v %d", r.rec.Code, keys, len(body))
	}
	want := shape(bob.get(avatarPath(u, "64")))
	for _, path := range []string{
		fmt.Sprintf("/users/%d/avatar/64?v=abc", bobID),
		"/users/999999/avatar/64",
		fmt.Sprintf("/users/%d/avatar/64", u.ID),
	} {
		if got := shape(bob.get(path)); got != want {
			t.Errorf("GET %s:\n%s\nwhere another's picture is\n%s", path, got, want)
		}
	}
	if !strings.Contains(want, "Cache-Control=private, no-store") {
		t.Errorf("a refusal may be kept: %s", want)
	}
	ada.post("/user/sign-out").redirectsTo("/")
	ada.get(avatarPath(u, "64")).status(404)
}

// TestAnUploadTheServerCannotKeepIsItsError: when the temporary
// directory cannot take the file (missing, full), the error is the
// server's (a 500, logged and alerted), not the client's 400.
func TestAnUploadTheServerCannotKeepIsItsError(t *testing.T) {
	s := avatarSite(t, nil, 0)
	ada := s.signedIn("ada@example.com")
	t.Setenv("TMPDIR", "/nonexistent/launchkit-test")
	if c := ada.uploadAvatar("me.png", pngOf(t, picture(20, 20, false))).rec.Code; c != 500 {
		t.Errorf("no temporary directory: %d, want 500", c)
	}
}
