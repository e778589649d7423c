package images_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"testing"

	"github.com/launchkit/launchkit/internal/images"
)

// picture is a w × h gradient, opaque or with a transparent corner.
func picture(w, h int, transparent bool) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{uint8(x), uint8(y), 90, 255})
		}
	}
	if transparent {
		img.Set(0, 0, color.NRGBA{})
	}
	return img
}

func encodePNG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodeJPEG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// withEXIF puts an APP1 segment holding an EXIF header and a GPS marker
// right after a JPEG's start-of-image marker.
func withEXIF(jpg []byte, payload string) []byte {
	seg := append([]byte("Exif\x00\x00"), payload...)
	app1 := []byte{0xff, 0xe1, 0, 0}
	binary.BigEndian.PutUint16(app1[2:], uint16(len(seg)+2))
	out := append([]byte{}, jpg[:2]...)
	out = append(out, app1...)
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

// pngHeaderOnly is a PNG signature and an IHDR chunk claiming w × h
// pixels, and then a broken body: what a decompression bomb's header
// looks like, in a few dozen bytes.
func pngHeaderOnly(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6 // 8-bit RGBA
	chunk := append([]byte("IHDR"), ihdr...)
	binary.Write(&b, binary.BigEndian, uint32(13))
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	b.WriteString("\x00\x00\x00\x00IDAT")
	return b.Bytes()
}

func TestDecodeTakesTheCommonFormats(t *testing.T) {
	src := picture(40, 30, false)
	var gifBuf bytes.Buffer
	if err := gif.Encode(&gifBuf, src, nil); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"png": encodePNG(t, src), "jpeg": encodeJPEG(t, src), "gif": gifBuf.Bytes()} {
		img, format, err := images.Decode(bytes.NewReader(data), images.MaxPixels)
		if err != nil || format != name || img.Bounds().Dx() != 40 || img.Bounds().Dy() != 30 {
			t.Errorf("%s: %v, %q, %v", name, img.Bounds(), format, err)
		}
	}
}

func TestDecodeRefusesWhatIsNotAPicture(t *testing.T) {
	whole := encodePNG(t, picture(40, 30, false))
	for name, data := range map[string][]byte{
		"text named .png":  []byte("just some text, not a picture\n"),
		"svg with script":  []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`),
		"truncated png":    whole[:len(whole)/2],
		"gif header, html": []byte("GIF89a\x10\x00\x10\x00\x80\x00\x00<html><script>alert(1)</script></html>"),
		"empty":            nil,
		"pdf":              []byte("%PDF-1.4\n1 0 obj\n<<>>\nendobj\n"),
	} {
		if _, _, err := images.Decode(bytes.NewReader(data), images.MaxPixels); !errors.Is(err, images.ErrNotImage) {
			t.Errorf("%s: %v, want ErrNotImage", name, err)
		}
	}
}

func TestDecodeRefusesTooManyPixelsBeforeReadingThem(t *testing.T) {
	bomb := pngHeaderOnly(20000, 20000)
	if len(bomb) > 100 {
		t.Fatalf("the header is %d bytes", len(bomb))
	}
	_, _, err := images.Decode(bytes.NewReader(bomb), images.MaxPixels)
	if !errors.Is(err, images.ErrTooLarge) {
		t.Fatalf("20000 × 20000: %v, want ErrTooLarge", err)
	}
	// Just under the limit is read (and here found broken), not refused
	// for its size.
	_, _, err = images.Decode(bytes.NewReader(pngHeaderOnly(5000, 5000)), images.MaxPixels)
	if !errors.Is(err, images.ErrNotImage) {
		t.Fatalf("5000 × 5000 broken: %v, want ErrNotImage", err)
	}
}

func TestEncodeWritesPixelsOnly(t *testing.T) {
	jpg := withEXIF(encodeJPEG(t, picture(64, 48, false)), "GPSLatitude 51.5007N GPSLongitude 0.1246W")
	img, _, err := images.Decode(bytes.NewReader(jpg), images.MaxPixels)
	if err != nil {
		t.Fatal(err)
	}
	out, ct, err := images.Encode(img)
	if err != nil || ct != "image/jpeg" {
		t.Fatalf("%q, %v", ct, err)
	}
	for _, marker := range []string{"Exif", "GPS"} {
		if bytes.Contains(out, []byte(marker)) {
			t.Errorf("the re-encoded picture still holds %q", marker)
		}
	}
	if !bytes.Contains(jpg, []byte("GPS")) {
		t.Fatal("the test's picture has no GPS marker to strip")
	}
}

func TestEncodeKeepsTransparency(t *testing.T) {
	_, ct, err := images.Encode(picture(10, 10, true))
	if err != nil || ct != "image/png" {
		t.Fatalf("transparent: %q, %v", ct, err)
	}
	_, ct, _ = images.Encode(picture(10, 10, false))
	if ct != "image/jpeg" {
		t.Fatalf("opaque: %q", ct)
	}
	if _, err := images.EncodeAs(picture(2, 2, false), "image/svg+xml"); err == nil {
		t.Fatal("EncodeAs wrote SVG")
	}
}

func TestSquareAndFit(t *testing.T) {
	sq := images.Square(picture(300, 100, false), 64)
	if b := sq.Bounds(); b.Dx() != 64 || b.Dy() != 64 {
		t.Fatalf("Square: %v", b)
	}
	if _, ct, _ := images.Encode(sq); ct != "image/jpeg" {
		t.Errorf("the square of an opaque picture is written as %s", ct)
	}
	for _, c := range []struct{ w, h, side, ww, wh int }{
		{3000, 1500, 1024, 1024, 512}, {1500, 3000, 1024, 512, 1024}, {800, 600, 1024, 800, 600}, {5000, 1, 1024, 1024, 1},
	} {
		b := images.Fit(picture(c.w, c.h, false), c.side).Bounds()
		if b.Dx() != c.ww || b.Dy() != c.wh {
			t.Errorf("Fit(%d × %d, %d) = %v, want %d × %d", c.w, c.h, c.side, b, c.ww, c.wh)
		}
	}
}

func TestAPolyglotIsWrittenAsAPictureOnly(t *testing.T) {
	var buf bytes.Buffer
	if err := gif.Encode(&buf, picture(16, 16, false), nil); err != nil {
		t.Fatal(err)
	}
	buf.WriteString("<html><script>alert(document.cookie)</script></html>")
	img, _, err := images.Decode(bytes.NewReader(buf.Bytes()), images.MaxPixels)
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := images.Encode(img)
	if err != nil || bytes.Contains(out, []byte("<script")) {
		t.Fatalf("re-encoded: %v, holds the script: %v", err, bytes.Contains(out, []byte("<script")))
	}
}
