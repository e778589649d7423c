package web_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/launchkit/launchkit/internal/jobs"
	"github.com/launchkit/launchkit/internal/storage"
	"github.com/launchkit/launchkit/internal/testenv"
	"github.com/launchkit/launchkit/internal/users"
	"github.com/launchkit/launchkit/internal/web"
)

// avatarSite is a site whose uploads go to a directory of the test's
// own, under a limit of limit bytes (0: the default, 10 MiB).
func avatarSite(t *testing.T, env map[string]string, limit int) *site {
	t.Helper()
	vars := map[string]string{"STORAGE_DIR": filepath.Join(t.TempDir(), "uploads")}
	if limit > 0 {
		vars["UPLOAD_MAX_BYTES"] = fmt.Sprint(limit)
	}
	for k, v := range env {
		vars[k] = v
	}
	return newSite(t, vars)
}

// filePart is one file of a multipart form: its field, the name the
// client gives it, and its bytes.
type filePart struct {
	field, name string
	data        []byte
}

// multipartBody is a multipart form of fields (name, value pairs) and
// files, and its Content-Type.
func multipartBody(t *testing.T, files []filePart, fields ...string) (*bytes.Buffer, string) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for i := 0; i+1 < len(fields); i += 2 {
		if err := mw.WriteField(fields[i], fields[i+1]); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range files {
		h := textproto.MIMEHeader{}
		// What a browser claims for the file: the tests show it is never
		// believed.
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, f.field, f.name))
		h.Set("Content-Type", "image/png")
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(f.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return &body, mw.FormDataContentType()
}

// postFiles submits a multipart form as the profile page does: fields
// as name, value pairs, and files.
func (v *visitor) postFiles(path string, files []filePart, fields ...string) *response {
	v.s.t.Helper()
	body, contentType := multipartBody(v.s.t, files, fields...)
	r := httptest.NewRequest(http.MethodPost, path, body)
	r.Header.Set("Content-Type", contentType)
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	return v.send(r)
}

// uploadAvatar posts data as the profile picture (with the name kept).
func (v *visitor) uploadAvatar(name string, data []byte) *response {
	v.s.t.Helper()
	return v.postFiles("/user/profile", []filePart{{"avatar", name, data}}, "name", "")
}

// picture is a w × h picture of a gradient, opaque, or with transparent
// pixels.
func picture(w, h int, transparent bool) image.Image {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			a := uint8(255)
			if transparent && x < w/2 {
				a = 0
			}
			img.SetNRGBA(x, y, color.NRGBA{R: uint8(x * 255 / w), G: uint8(y * 255 / h), B: 128, A: a})
		}
	}
	return img
}

func pngOf(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// gpsMarker stands for a camera's GPS position in a picture's EXIF data.
const gpsMarker = "GPSLatitude=51.4779N;GPSLongitude=0.0015W;launchkit-secret-place"

// jpegWithEXIF is a JPEG carrying an EXIF (APP1) segment that holds
// gpsMarker, as a phone's photo holds where it was taken.
func jpegWithEXIF(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, picture(120, 80, false), &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	payload := append([]byte("Exif\x00\x00"), gpsMarker...)
	segment := []byte{0xff, 0xe1, 0, 0}
	binary.BigEndian.PutUint16(segment[2:], uint16(len(payload)+2))
	segment = append(segment, payload...)
	data := b.Bytes()
	// After the start of image (FF D8), before everything else.
	out := append(append(append([]byte{}, data[:2]...), segment...), data[2:]...)
	if _, _, err := image.Decode(bytes.NewReader(out)); err != nil {
		t.Fatalf("the JPEG with EXIF does not decode: %v", err)
	}
	if !bytes.Contains(out, []byte(gpsMarker)) {
		t.Fatal("the marker is not in the file")
	}
	return out
}

// hugePNG is a PNG of a few dozen bytes whose header claims w × h pixels
// (its pixel data is one empty zlib stream): decoding it whole would
// allocate w × h × 4 bytes.
func hugePNG(w, h uint32) []byte {
	chunk := func(kind string, data []byte) []byte {
		c := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
		c = append(c, kind...)
		c = append(c, data...)
		return binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(append([]byte(kind), data...)))
	}
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 6, 0, 0, 0) // 8 bits, RGBA, deflate, no filter, no interlace
	out := []byte("\x89PNG\r\n\x1a\n")
	out = append(out, chunk("IHDR", ihdr)...)
	out = append(out, chunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})...)
	return append(out, chunk("IEND", nil)...)
}

// user is the account of email as the service reads it now.
func (s *site) user(email string) *users.User {
	s.t.Helper()
	u, err := s.app.Users.ByEmail(context.Background(), email)
	if err != nil {
		s.t.Fatal(err)
	}
	if u, err = s.app.Users.ByID(context.Background(), u.ID); err != nil {
		s.t.Fatal(err)
	}
	return u
}

// stored reads the object of key from the site's store, nil when there
// is none.
func (s *site) stored(key string) []byte {
	s.t.Helper()
	body, _, err := s.app.Storage.Open(context.Background(), key)
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	if err != nil {
		s.t.Fatal(err)
	}
	defer body.Close()
	data, err := io.ReadAll(body)
	if err != nil {
		s.t.Fatal(err)
	}
	return data
}

// tracked reports whether stored_files holds key.
func (s *site) tracked(key string) bool {
	s.t.Helper()
	ok, err := s.app.Files.Tracked(context.Background(), key)
	if err != nil {
		s.t.Fatal(err)
	}
	return ok
}

// runStorageTasks runs the storage tasks waiting in the queues as a
// worker would (the tests run none), and returns the keys the
// storage:delete tasks among them deleted.
func (s *site) runStorageTasks() (deleted []string) {
	s.t.Helper()
	inspector := asynq.NewInspectorFromRedisClient(s.app.Redis)
	handlers := s.app.Handlers().Mux()
	for _, queue := range []string{jobs.QueueCritical, jobs.QueueDefault, jobs.QueueLow} {
		tasks, err := inspector.ListPendingTasks(queue)
		if errors.Is(err, asynq.ErrQueueNotFound) {
			continue
		}
		if err != nil {
			s.t.Fatal(err)
		}
		for _, task := range tasks {
			if !strings.HasPrefix(task.Type, "storage:") {
				continue
			}
			if task.Type == storage.TaskDelete {
				var p storage.DeletePayload
				if err := json.Unmarshal(task.Payload, &p); err != nil {
					s.t.Fatal(err)
				}
				deleted = append(deleted, p.Keys...)
			}
			if err := handlers.ProcessTask(context.Background(), asynq.NewTask(task.Type, task.Payload)); err != nil {
				s.t.Fatalf("task %s: %v", task.Type, err)
			}
			if err := inspector.DeleteTask(queue, task.ID); err != nil {
				s.t.Fatal(err)
			}
		}
	}
	return deleted
}

// avatarKey is the key of a stored picture: generated, in avatars/.
var avatarKey = regexp.MustCompile(`^avatars/[a-z0-9]{26}\.(png|jpg)$`)

// avatarPath is the address of u's picture at size, as pages write it.
func avatarPath(u *users.User, size string) string {
	name := strings.TrimPrefix(u.AvatarKey, "avatars/")
	return fmt.Sprintf("/users/%d/avatar/%s?v=%s", u.ID, size, name[:8])
}

// TestAPictureIsReEncodedAndServedSafely: a picture sent on the profile
// page is stored re-encoded under a generated key, nothing of the file
// but its pixels kept (the GPS position of a photo's EXIF data is gone),
// and served to its owner inline, as the image it is, with nosniff and
// the sandboxing CSP, kept privately by the browser for a day under an
// address that changes with the picture.
func TestAPictureIsReEncodedAndServedSafely(t *testing.T) {
	t.Parallel()
	s := avatarSite(t, nil, 0)
	ada := s.signedIn("ada@example.com")
	ada.get("/user/profile").status(200).
		contains(`enctype="multipart/form-data"`, `type="file"`, `name="avatar"`, `accept="image/png,image/jpeg,image/gif,image/webp"`, `<span class="avatar avatar-lg" aria-hidden="true">A</span>`).
		lacks(`name="remove_avatar"`)

	ada.postFiles("/user/profile", []filePart{{"avatar", "IMG_0001.JPG", jpegWithEXIF(t)}}, "name", "Ada Lovelace").redirectsTo("/user/profile")
	u := s.user("ada@example.com")
	if u.Name != "Ada Lovelace" || !avatarKey.MatchString(u.AvatarKey) || u.AvatarVariants {
		t.Fatalf("user = name %q, key %q, variants %v", u.Name, u.AvatarKey, u.AvatarVariants)
	}
	data := s.stored(u.AvatarKey)
	if bytes.Contains(data, []byte(gpsMarker)) || bytes.Contains(data, []byte("Exif")) {
		t.Error("the stored picture keeps the EXIF data")
	}
	if img, format, err := image.Decode(bytes.NewReader(data)); err != nil || format != "jpeg" || img.Bounds().Dx() != 120 {
		t.Errorf("stored picture: %v, %s, %v", img.Bounds(), format, err)
	}
	if !s.tracked(u.AvatarKey) {
		t.Error("the picture is not tracked in stored_files")
	}

	full := avatarPath(u, "full")
	ada.get("/user/profile").status(200).contains("Your profile and picture are saved.", `src="`+avatarPath(u, "256")+`"`, `name="remove_avatar"`)
	ada.get("/").status(200).contains(`<img class="avatar" src="` + avatarPath(u, "64") + `" alt="" width="32" height="32">`)
	r := ada.get(full).status(200).
		header("Content-Type", "image/jpeg").
		header("X-Content-Type-Options", "nosniff").
		header("Content-Security-Policy", storage.DownloadCSP).
		header("Content-Disposition", `inline; filename=avatar.jpg`).
		header("Cache-Control", "private, max-age=86400")
	if r.body != string(data) {
		t.Error("the route does not serve the stored picture")
	}
	// An address of another picture (or none) is kept a minute only.
	ada.get(fmt.Sprintf("/users/%d/avatar/full", u.ID)).status(200).header("Cache-Control", "private, max-age=60")
	// Until the copies are made, the picture stands in for them, kept a
	// minute; then the copy is served, kept a day.
	ada.get(avatarPath(u, "64")).status(200).header("Cache-Control", "private, max-age=60")
	s.runStorageTasks()
	u = s.user("ada@example.com")
	if !u.AvatarVariants {
		t.Fatal("the copies were not recorded")
	}
	for _, size := range []int{64, 256} {
		r := ada.get(avatarPath(u, fmt.Sprint(size))).status(200).header("Cache-Control", "private, max-age=86400").header("Content-Type", "image/jpeg")
		img, _, err := image.Decode(strings.NewReader(r.body))
		if err != nil || img.Bounds().Dx() != size || img.Bounds().Dy() != size {
			t.Errorf("copy %d: %v, %v", size, err, img.Bounds())
		}
	}
	// HEAD answers as GET does, without the bytes.
	head := ada.send(httptest.NewRequest(http.MethodHead, full, nil)).status(200).header("Content-Type", "image/jpeg")
	if head.body != "" {
		t.Error("HEAD has a body")
	}
}

// TestATransparentPictureStaysAPNG: a picture with transparent pixels is
// written again as a PNG (a JPEG has no transparency).
func TestATransparentPictureStaysAPNG(t *testing.T) {
	t.Parallel()
	s := avatarSite(t, nil, 0)
	ada := s.signedIn("ada@example.com")
	ada.uploadAvatar("me.png", pngOf(t, picture(40, 40, true))).redirectsTo("/user/profile")
	u := s.user("ada@example.com")
	if !strings.HasSuffix(u.AvatarKey, ".png") {
		t.Fatalf("key %q", u.AvatarKey)
	}
	ada.get(avatarPath(u, "full")).status(200).header("Content-Type", "image/png").header("Content-Disposition", "inline; filename=avatar.png")
}

// TestAPictureIsSeenByItsOwnerAndAdminsOnly: THE ATTACK. Another user
// asks for a picture by the account's ID; a visitor too. Both get the
// same 404 as a user with no picture, an unknown user, or a size or ID
// that is not one; an admin sees it. No 404 is kept by the browser.
func TestAPictureIsSeenByItsOwnerAndAdminsOnly(t *testing.T) {
	t.Parallel()
	s := avatarSite(t, nil, 0)
	ada := s.signedIn("ada@example.com")
	ada.uploadAvatar("ada.png", pngOf(t, picture(30, 30, false))).redirectsTo("/user/profile")
	u := s.user("ada@example.com")
	full := avatarPath(u, "full")

	bob := s.signedIn("bob@example.com")
	bob.get(full).status(404).header("Cache-Control", "private, no-store")
	bob.get(avatarPath(u, "64")).status(404)
	s.visitor().get(full).status(404).header("Cache-Control", "private, no-store")
	s.get(full).status(404)
	bobID := s.user("bob@example.com").ID
	bob.get(fmt.Sprintf("/users/%d/avatar/full", bobID)).status(404) // no picture

	admin := s.signedIn("admin@example.com", "admin")
	admin.get(full).status(200).header("Content-Type", "image/jpeg").header("Cache-Control", "private, max-age=86400")
	admin.get(avatarPath(u, "64")).status(200)
	admin.get(fmt.Sprintf("/users/%d/avatar/full", bobID)).status(404)
	admin.get("/users/999999/avatar/full").status(404)
	for _, bad := range []string{
		fmt.Sprintf("/users/%d/avatar/128", u.ID),
		fmt.Sprintf("/users/%d/avatar/", u.ID),
		fmt.Sprintf("/users/%d/avatar/full.jpg", u.ID),
		"/users/abc/avatar/full",
		"/users/-1/avatar/full",
		"/users/18446744073709551617/avatar/full",
		"/users/1/avatar/..%2f..%2fetc%2fpasswd",
		"/users/" + u.AvatarKey,
	} {
		ada.get(bad).status(404)
		admin.get(bad).status(404)
	}
	// The admin's list shows each user's picture, or their initial.
	admin.get("/admin/users").status(200).contains(`src="`+avatarPath(u, "64")+`"`, `<span class="avatar" aria-hidden="true">B</span>`)
}

// TestAReplacedPictureIsReleased: a new picture releases the old one and
// its copies (stored_files forgets them, and a storage:delete task
// deletes them); removing it releases it too.
func TestAReplacedPictureIsReleased(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, databaseURL func(testing.TB) string) {
		s := avatarSite(t, map[string]string{"DATABASE_URL": databaseURL(t)}, 0)
		ada := s.signedIn("ada@example.com")
		ada.uploadAvatar("one.png", pngOf(t, picture(50, 50, false))).redirectsTo("/user/profile")
		s.runStorageTasks() // the copies
		old := s.user("ada@example.com")
		oldFiles := users.AvatarFiles(old.AvatarKey)
		for _, k := range oldFiles {
			if !s.tracked(k) || s.stored(k) == nil {
				t.Fatalf("%s is not stored and tracked", k)
			}
		}

		ada.uploadAvatar("two.png", pngOf(t, picture(60, 60, true))).redirectsTo("/user/profile")
		now := s.user("ada@example.com")
		if now.AvatarKey == old.AvatarKey || !avatarKey.MatchString(now.AvatarKey) || now.AvatarVariants {
			t.Fatalf("new key %q (old %q), variants %v", now.AvatarKey, old.AvatarKey, now.AvatarVariants)
		}
		for _, k := range oldFiles {
			if s.tracked(k) {
				t.Errorf("%s is still tracked", k)
			}
		}
		deleted := s.runStorageTasks()
		for _, k := range oldFiles {
			if !slices.Contains(deleted, k) || s.stored(k) != nil {
				t.Errorf("%s was not deleted (deleted: %q)", k, deleted)
			}
		}
		ada.get(avatarPath(old, "full")).status(200).header("Cache-Control", "private, max-age=60") // the new one, at the old address
		ada.get(avatarPath(now, "full")).status(200).header("Content-Type", "image/png")

		// Removed: the name is kept, the picture and its copies go.
		ada.postFiles("/user/profile", nil, "name", "Ada", "remove_avatar", "1").redirectsTo("/user/profile")
		gone := s.user("ada@example.com")
		if gone.AvatarKey != "" || gone.Name != "Ada" {
			t.Fatalf("after removal: key %q, name %q", gone.AvatarKey, gone.Name)
		}
		deleted = s.runStorageTasks()
		for _, k := range users.AvatarFiles(now.AvatarKey) {
			if !slices.Contains(deleted, k) || s.stored(k) != nil || s.tracked(k) {
				t.Errorf("%s was not released (deleted: %q)", k, deleted)
			}
		}
		ada.get("/user/profile").status(200).contains("without a picture", `<span class="avatar avatar-lg" aria-hidden="true">A</span>`).lacks(`name="remove_avatar"`)
		ada.get(avatarPath(now, "full")).status(404)
		ada.get("/").status(200).contains(`<span class="avatar" aria-hidden="true">A</span>`)
	})
}

// TestADeletedAccountsPictureIsReleased: an admin deletes an account;
// its picture and the copies go with it.
func TestADeletedAccountsPictureIsReleased(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, databaseURL func(testing.TB) string) {
		s := avatarSite(t, map[string]string{"DATABASE_URL": databaseURL(t)}, 0)
		ada := s.signedIn("ada@example.com")
		ada.uploadAvatar("ada.png", pngOf(t, picture(50, 50, false))).redirectsTo("/user/profile")
		s.runStorageTasks()
		u := s.user("ada@example.com")
		files := users.AvatarFiles(u.AvatarKey)
		admin := s.signedIn("admin@example.com", "admin")
		admin.get(avatarPath(u, "64")).status(200)
		// The list reads each user's picture (the admin has none).
		admin.get("/admin/users").status(200).contains(`<img class="avatar" src="`+avatarPath(u, "64")+`"`, `<span class="avatar" aria-hidden="true">A</span><span>admin@example.com</span>`)
		admin.post(fmt.Sprintf("/admin/users/%d/delete", u.ID)).redirectsTo("/admin/users")
		deleted := s.runStorageTasks()
		for _, k := range files {
			if !slices.Contains(deleted, k) || s.stored(k) != nil || s.tracked(k) {
				t.Errorf("%s was not released (deleted: %q)", k, deleted)
			}
		}
		admin.get(avatarPath(u, "64")).status(404)
		// IDs past what the databases' BIGINT holds are no user's either.
		for _, id := range []string{"9223372036854775807", "9223372036854775808", "18446744073709551616", "0"} {
			admin.get("/users/" + id + "/avatar/64").status(404)
		}
	})
}

// TestBadPicturesAreRefusedClearly: what is not a picture the site can
// read again gets a 422 that says why on the picture's field, and
// nothing is saved, the name neither: wrong types (a PDF), a text file
// named .png, an SVG with script, a polyglot (a GIF header before
// script), a truncated PNG, a 20,000 × 20,000 picture in a few bytes
// (refused from its header, before its pixels are allocated). Never a
// 500.
func TestBadPicturesAreRefusedClearly(t *testing.T) {
	t.Parallel()
	s := avatarSite(t, nil, 0)
	ada := s.signedIn("ada@example.com")
	good := pngOf(t, picture(40, 40, false))
	for _, tc := range []struct {
		name, file string
		data       []byte
		says       string
	}{
		{"pdf", "cv.pdf", []byte("%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"), "Choose a picture"},
		{"text named .png", "photo.png", []byte("I am only text, whatever my name says.\n"), "Choose a picture"},
		{"svg with script", "me.svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>`), "Choose a picture"},
		{"svg named .png", "me.png", []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`), "Choose a picture"},
		{"html", "me.png", []byte(`<!doctype html><html><script>alert(1)</script></html>`), "Choose a picture"},
		{"polyglot", "me.gif", []byte("GIF89a/*\x00\x00<script>alert(document.domain)</script>*/=1;"), "cannot be read as a picture"},
		{"truncated", "me.png", good[:len(good)/2], "cannot be read as a picture"},
		{"too many pixels", "bomb.png", hugePNG(20000, 20000), "at most 25 megapixels"},
		{"too wide", "wide.png", hugePNG(1<<31-1, 1), "at most 25 megapixels"},
		{"zero size", "none.png", hugePNG(0, 0), "cannot be read as a picture"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ada.postFiles("/user/profile", []filePart{{"avatar", tc.file, tc.data}}, "name", "Not Saved").status(422)
			r.contains(tc.says, `id="avatar-error"`, `aria-invalid="true"`, `value="Not Saved"`)
			if u := s.user("ada@example.com"); u.AvatarKey != "" || u.Name != "" {
				t.Errorf("saved: key %q, name %q", u.AvatarKey, u.Name)
			}
		})
	}
	if n := countFiles(t, s.app.Config.StorageDir); n != 0 {
		t.Errorf("%d files stored", n)
	}

	// A real GIF with script after it decodes: only its pixels are
	// kept, written again as a JPEG, so the script is gone.
	var gifData bytes.Buffer
	if err := gif.Encode(&gifData, picture(16, 16, false), nil); err != nil {
		t.Fatal(err)
	}
	gifData.WriteString("<script>alert(document.domain)</script>")
	ada.uploadAvatar("me.gif", gifData.Bytes()).redirectsTo("/user/profile")
	u := s.user("ada@example.com")
	if !strings.HasSuffix(u.AvatarKey, ".jpg") || bytes.Contains(s.stored(u.AvatarKey), []byte("<script>")) {
		t.Errorf("the GIF with script is stored as %s, script and all", u.AvatarKey)
	}
}

// countFiles counts the files under dir (none when it does not exist).
func countFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestAnEmptyFileIsNoPicture: a file of no bytes (or no file chosen) is
// no picture: the name is saved, the picture stays as it was. A plain
// form without a file (no JavaScript, an older page) saves the name.
func TestAnEmptyFileIsNoPicture(t *testing.T) {
	t.Parallel()
	s := avatarSite(t, nil, 0)
	ada := s.signedIn("ada@example.com")
	ada.uploadAvatar("me.png", pngOf(t, picture(20, 20, false))).redirectsTo("/user/profile")
	key := s.user("ada@example.com").AvatarKey
	ada.postFiles("/user/profile", []filePart{{"avatar", "empty.png", nil}}, "name", "Ada").redirectsTo("/user/profile")
	ada.postFiles("/user/profile", []filePart{{"avatar", "", nil}}, "name", "Ada L").redirectsTo("/user/profile")
	if u := s.user("ada@example.com"); u.Name != "Ada L" || u.AvatarKey != key {
		t.Errorf("name %q, key %q (was %q)", u.Name, u.AvatarKey, key)
	}
	ada.post("/user/profile", "name", "Ada Lovelace").redirectsTo("/user/profile")
	if u := s.user("ada@example.com"); u.Name != "Ada Lovelace" || u.AvatarKey != key {
		t.Errorf("name %q, key %q (was %q)", u.Name, u.AvatarKey, key)
	}
	// A name refused with a good picture saves neither.
	ada.postFiles("/user/profile", []filePart{{"avatar", "me.png", pngOf(t, picture(20, 20, false))}}, "name", strings.Repeat("é", 201)).status(422).contains("at most 200")
	if u := s.user("ada@example.com"); u.Name != "Ada Lovelace" || u.AvatarKey != key {
		t.Errorf("name %q, key %q (was %q)", u.Name, u.AvatarKey, key)
	}
}

// TestFileNamesAreNeverUsed: THE ATTACK. A file named with a path out of
// the upload directory is stored under a generated key, and its name is
// not offered back either.
func TestFileNamesAreNeverUsed(t *testing.T) {
	t.Parallel()
	s := avatarSite(t, nil, 0)
	ada := s.signedIn("ada@example.com")
	for _, name := range []string{"../../etc/passwd.png", `..\..\windows\win.ini.png`, "/etc/passwd", "a\x00b.png", "<script>.png"} {
		ada.uploadAvatar(name, pngOf(t, picture(20, 20, false))).redirectsTo("/user/profile")
		u := s.user("ada@example.com")
		if !avatarKey.MatchString(u.AvatarKey) {
			t.Fatalf("key %q for %q", u.AvatarKey, name)
		}
		ada.get(avatarPath(u, "full")).status(200).header("Content-Disposition", "inline; filename=avatar.jpg")
	}
	root := filepath.Dir(s.app.Config.StorageDir)
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !avatarKey.MatchString(filepath.ToSlash(strings.TrimPrefix(p, s.app.Config.StorageDir+string(filepath.Separator)))) {
			t.Errorf("a file that is no picture's: %s", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// countingReader is an endless body that counts what was read of it: a
// multipart form's file part that never ends.
type countingReader struct {
	head []byte
	read int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n := 0
	if c.read < int64(len(c.head)) {
		n = copy(p, c.head[c.read:])
	} else {
		for i := range p {
			p[i] = 'x'
		}
		n = len(p)
	}
	c.read += int64(n)
	return n, nil
}

// TestAnOversizedPictureIs413AtOnce: THE ATTACK. A body that declares a
// terabyte, and goes on for ever, is refused with 413 once the file
// passes UPLOAD_MAX_BYTES: what was read of it stays near the limit.
func TestAnOversizedPictureIs413AtOnce(t *testing.T) {
	t.Parallel()
	const limit = 256 << 10
	s := avatarSite(t, nil, limit)
	ada := s.signedIn("ada@example.com")
	var head bytes.Buffer
	mw := multipart.NewWriter(&head)
	_ = mw.WriteField("name", "Ada")
	if _, err := mw.CreateFormFile("avatar", "big.png"); err != nil {
		t.Fatal(err)
	}
	head.WriteString("\x89PNG\r\n\x1a\n")
	body := &countingReader{head: head.Bytes()}
	r := httptest.NewRequest(http.MethodPost, "/user/profile", body)
	r.ContentLength = 1 << 40
	r.Header.Set("Content-Type", mw.FormDataContentType())
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	ada.send(r).status(413).contains("larger than the 256 KiB allowed")
	if body.read > limit+128<<10 {
		t.Errorf("read %d bytes of the body, limit %d", body.read, limit)
	}
	t.Logf("read %d bytes of a body declaring %d, limit %d", body.read, r.ContentLength, limit)
	if u := s.user("ada@example.com"); u.AvatarKey != "" || u.Name != "" {
		t.Errorf("saved: key %q, name %q", u.AvatarKey, u.Name)
	}
	// Just under the limit is taken.
	small := pngOf(t, picture(20, 20, false))
	ada.uploadAvatar("ok.png", append(small, make([]byte, limit-len(small)-1)...)).redirectsTo("/user/profile")
}

// TestOwnPicturePassesTheSecondFactorGate: an admin whom
// MFA_REQUIRED_ROLES holds to the security page until they set up a
// second factor still sees their own picture there (the top bar shows
// it), and nobody else's.
func TestOwnPicturePassesTheSecondFactorGate(t *testing.T) {
	t.Parallel()
	s := avatarSite(t, map[string]string{"MFA_REQUIRED_ROLES": "admin"}, 0)
	ada := s.signedIn("ada@example.com")
	ada.uploadAvatar("ada.png", pngOf(t, picture(20, 20, false))).redirectsTo("/user/profile")
	adaUser := s.user("ada@example.com")

	admin := s.signedIn("root@example.com", "admin")
	admin.get("/user/profile").redirectsTo("/user/security")
	// Given a picture another way (a script, before the rule).
	id := s.user("root@example.com").ID
	data := pngOf(t, picture(20, 20, false))
	key := storage.NewKey("avatars", "image/png")
	if err := s.app.Storage.Put(context.Background(), key, bytes.NewReader(data), int64(len(data)), "image/png"); err != nil {
		t.Fatal(err)
	}
	if err := s.app.Users.SetAvatar(context.Background(), id, key); err != nil {
		t.Fatal(err)
	}
	root := s.user("root@example.com")
	admin.get("/user/security").status(200).contains(`src="` + avatarPath(root, "64") + `"`)
	admin.get(avatarPath(root, "64")).status(200).header("Content-Type", "image/png")
	admin.get(avatarPath(adaUser, "64")).redirectsTo("/user/security")
}

// presigningStore is a store that hands out addresses of its own, as S3
// does with presigned URLs.
type presigningStore struct{ storage.Store }

func (presigningStore) URL(_ context.Context, key string, d storage.Download) (string, error) {
	return "https://files.example.com/" + key + "?signature=x&inline=" + fmt.Sprint(d.Inline), nil
}

// TestAPictureInAStoreWithAddressesIsARedirect: with a store that has
// addresses of its own (S3), the picture's address sends the browser
// there (after the same access check), kept less long than the
// presigned URL lives; the pages' img-src allows that origin.
func TestAPictureInAStoreWithAddressesIsARedirect(t *testing.T) {
	t.Parallel()
	a, logs := testenv.NewApp(t, nil)
	a.Storage = presigningStore{a.Storage}
	h, err := web.New(a)
	if err != nil {
		t.Fatal(err)
	}
	s := &site{t: t, app: a, handler: h, logs: logs}
	ada := s.signedIn("ada@example.com")
	ada.uploadAvatar("ada.png", pngOf(t, picture(20, 20, false))).redirectsTo("/user/profile")
	u := s.user("ada@example.com")
	ada.get(avatarPath(u, "full")).redirectsTo("https://files.example.com/"+u.AvatarKey+"?signature=x&inline=true").
		header("Cache-Control", fmt.Sprintf("private, max-age=%d", int(storage.URLLifetime.Seconds())/2))
	s.signedIn("bob@example.com").get(avatarPath(u, "full")).status(404)
	if csp := ada.get("/").rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "img-src 'self' data: https://files.example.com;") {
		t.Errorf("CSP %q does not let pictures come from the store", csp)
	}
}

// racingStore is a store that runs afterPut once an object is stored:
// something that happens between the upload and its record.
type racingStore struct {
	storage.Store
	afterPut func()
}

func (s racingStore) Put(ctx context.Context, key string, body io.ReadSeeker, size int64, contentType string) error {
	if err := s.Store.Put(ctx, key, body, size, contentType); err != nil {
		return err
	}
	s.afterPut()
	return nil
}

// TestAPictureNobodyOwnsIsDeleted: the account is deleted between the
// picture's storing and its record; the stored picture is deleted at
// once rather than left for the sweep, and the answer is no 500.
func TestAPictureNobodyOwnsIsDeleted(t *testing.T) {
	t.Parallel()
	a, logs := testenv.NewApp(t, nil)
	var adaID uint
	a.Storage = racingStore{a.Storage, func() {
		if err := a.DB.Gorm.Exec("DELETE FROM users WHERE id = ?", adaID).Error; err != nil {
			t.Error(err)
		}
	}}
	h, err := web.New(a)
	if err != nil {
		t.Fatal(err)
	}
	s := &site{t: t, app: a, handler: h, logs: logs}
	ada := s.signedIn("ada@example.com")
	adaID = s.user("ada@example.com").ID
	ada.uploadAvatar("ada.png", pngOf(t, picture(20, 20, false))).status(404)
	if n := countFiles(t, s.app.Config.StorageDir); n != 0 {
		t.Errorf("%d files left in the store", n)
	}
}
