package web

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/launchkit/launchkit/internal/storage"
)

// filesServer is a Server with only what the helpers of stored files
// use: a local store of its own.
func filesServer(t *testing.T) (*Server, *storage.Local) {
	t.Helper()
	store, err := storage.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return &Server{storage: store, logger: slog.New(slog.DiscardHandler)}, store
}

// uploaded is data as parseUploadForm would hand it over.
func uploaded(t *testing.T, name string, data []byte) *upload {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "upload-*")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	up := &upload{Name: name, File: f, Size: int64(len(data)), ContentType: storage.Sniff(data)}
	t.Cleanup(up.Close)
	return up
}

// pngOf is a w × h PNG; with a transparent pixel when clear.
func pngOf(t *testing.T, w, h int, clear bool) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{R: 200, G: uint8(x), B: uint8(y), A: 255})
		}
	}
	if clear {
		img.Set(0, 0, color.NRGBA{})
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// claiming is the PNG data with its header rewritten to claim w × h
// pixels: a small file that would decode into a huge picture.
func claiming(data []byte, w, h uint32) []byte {
	out := bytes.Clone(data)
	// The IHDR chunk: length (8:12), type (12:16), width, height, …, CRC.
	binary.BigEndian.PutUint32(out[16:20], w)
	binary.BigEndian.PutUint32(out[20:24], h)
	binary.BigEndian.PutUint32(out[29:33], crc32.ChecksumIEEE(out[12:29]))
	return out
}

// TestStorePictureKeepsOnlyPicturesReencoded: a picture is stored as
// images.Reencode writes it again (a JPEG when opaque, a PNG with
// transparency; scaled down past pictureMaxSide), under a key of its
// folder; anything else, a picture cut short, and a picture of too many
// pixels are the field's problem, with nothing stored.
func TestStorePictureKeepsOnlyPicturesReencoded(t *testing.T) {
	s, store := filesServer(t)
	ctx := t.Context()
	opaque := pngOf(t, 12, 8, false)
	for _, tc := range []struct {
		name    string
		data    []byte
		ext     string // of the key stored; "" for none
		w, h    int    // of the picture stored
		problem string
	}{
		{"an opaque PNG", opaque, ".jpg", 12, 8, ""},
		{"a PNG with transparency", pngOf(t, 12, 8, true), ".png", 12, 8, ""},
		{"a PNG wider than pictureMaxSide", pngOf(t, pictureMaxSide+100, 2, false), ".jpg", pictureMaxSide, 1, ""},
		{"text", []byte("only words, in a file named like a picture"), "", 0, 0, notPictureProblem},
		{"an SVG", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), "", 0, 0, notPictureProblem},
		{"a PNG cut short", opaque[:60], "", 0, 0, notPictureProblem},
		{"a PNG claiming 20000 × 20000 pixels", claiming(opaque, 20000, 20000), "", 0, 0, "too many pixels"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, problem, err := s.storePicture(ctx, "things", uploaded(t, "picture.png", tc.data))
			if err != nil {
				t.Fatal(err)
			}
			if tc.ext == "" {
				if key != "" || !strings.Contains(problem, tc.problem) || tc.problem == "" {
					t.Errorf("storePicture = %q, %q; want no key and the problem %q", key, problem, tc.problem)
				}
				return
			}
			if problem != "" || !strings.HasPrefix(key, "things/") || !strings.HasSuffix(key, tc.ext) {
				t.Fatalf("storePicture = %q, %q; want a key things/….%s", key, problem, tc.ext)
			}
			body, obj, err := store.Open(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			defer body.Close()
			img, format, err := image.Decode(body)
			if err != nil || img.Bounds().Dx() != tc.w || img.Bounds().Dy() != tc.h || map[string]string{"jpeg": ".jpg", "png": ".png"}[format] != tc.ext {
				t.Errorf("stored %s (%s): %v, %v", format, obj.ContentType, img.Bounds(), err)
			}
		})
	}
	n := 0
	if err := store.List(ctx, func(storage.Object) error { n++; return nil }); err != nil || n != 3 {
		t.Errorf("the store holds %d objects (%v), want the 3 pictures", n, err)
	}
}

// TestStoreFileKeepsTheBytesByTheirType: a file is stored as sent, under
// a key whose extension its bytes give, not its name.
func TestStoreFileKeepsTheBytesByTheirType(t *testing.T) {
	s, store := filesServer(t)
	key, err := s.storeFile(t.Context(), "things", uploaded(t, "notes.html", []byte("<html><script>alert(1)</script>")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(key, "things/") || !strings.HasSuffix(key, ".bin") {
		t.Errorf("key %q, want things/….bin (HTML is stored as bytes, never as a page)", key)
	}
	body, _, err := store.Open(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	if b, _ := io.ReadAll(body); string(b) != "<html><script>alert(1)</script>" {
		t.Errorf("stored %q", b)
	}
}

// TestDiscardFilesDeletesEvenForAClientGone: the objects of a record not
// saved are deleted, also when the request's context has ended.
func TestDiscardFilesDeletesEvenForAClientGone(t *testing.T) {
	s, store := filesServer(t)
	var keys []string
	for range 2 {
		key, err := s.storeFile(t.Context(), "things", uploaded(t, "a.txt", []byte("some text")))
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, key)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	s.discardFiles(ctx, keys)
	for _, key := range keys {
		if _, _, err := store.Open(t.Context(), key); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("%s after discardFiles: %v, want ErrNotFound", key, err)
		}
	}
}

// TestServeFileIsPrivate: a stored file is served uncached, a picture
// inline when asked and anything else as an attachment; an object that
// is gone is a 404.
func TestServeFileIsPrivate(t *testing.T) {
	s, _ := filesServer(t)
	ctx := t.Context()
	text, err := s.storeFile(ctx, "things", uploaded(t, "a.txt", []byte("some text")))
	if err != nil {
		t.Fatal(err)
	}
	picture, _, err := s.storePicture(ctx, "things", uploaded(t, "p.png", pngOf(t, 4, 4, false)))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key         string
		d           storage.Download
		disposition string
	}{
		{text, storage.Download{Filename: "notes.txt", Inline: true}, "attachment; filename=notes.txt"},
		{picture, storage.Download{Filename: "p.png", Inline: true}, "inline; filename=p.jpg"}, // re-encoded as a JPEG
		{picture, storage.Download{Filename: "p.png"}, "attachment; filename=p.jpg"},
	} {
		w := httptest.NewRecorder()
		if err := s.serveFile(w, httptest.NewRequest(http.MethodGet, "/x", nil), tc.key, tc.d); err != nil {
			t.Fatal(err)
		}
		h := w.Result().Header
		if w.Code != http.StatusOK || h.Get("Cache-Control") != privateNoStore || h.Get("Content-Disposition") != tc.disposition {
			t.Errorf("%s: %d, Cache-Control %q, Content-Disposition %q; want 200, %q, %q", tc.key, w.Code,
				h.Get("Cache-Control"), h.Get("Content-Disposition"), privateNoStore, tc.disposition)
		}
	}
	err = s.serveFile(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/x", nil), "things/gone.txt", storage.Download{})
	if !errors.Is(err, errNotFound) {
		t.Errorf("a key with no object: %v, want errNotFound", err)
	}
}
