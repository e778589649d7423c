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
	"runtime"
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

// allocated is how many bytes fn allocates.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestScalingAllocatesLittleMoreThanItsOutput(t *testing.T) {
	photo := picture(1870, 1400, false) // the size of make bench's uploads
	var fit image.Image
	got := allocated(func() { fit = images.Fit(photo, 1024) })
	out := uint64(fit.Bounds().Dx() * fit.Bounds().Dy() * 4)
	if got > out+out/2 {
		t.Errorf("Fit(1870 × 1400, 1024) allocated %d bytes for a %d-byte picture", got, out)
	}
	big := picture(3000, 3000, false)
	got = allocated(func() { images.Square(big, 256) })
	// A 1000 × 1000 average (k = 3, 4 MB) and the 256 × 256 copy.
	if limit := uint64(1000*1000*4 + 256*256*4 + 1<<20); got > limit {
		t.Errorf("Square(3000 × 3000, 256) allocated %d bytes, want at most %d", got, limit)
	}
}

func TestReductionAveragesEveryPixel(t *testing.T) {
	// Black and white columns, one pixel each: skipping pixels would
	// give black or white; averaging gives grey.
	img := image.NewNRGBA(image.Rect(0, 0, 512, 512))
	for y := range 512 {
		for x := range 512 {
			v := uint8(0)
			if x%2 == 1 {
				v = 255
			}
			img.Set(x, y, color.NRGBA{v, v, v, 255})
		}
	}
	// The same picture as a JPEG decodes to YCbCr, read another way.
	fromJPEG, _, err := images.Decode(bytes.NewReader(encodeJPEG(t, img)), images.MaxPixels)
	if err != nil {
		t.Fatal(err)
	}
	for name, src := range map[string]image.Image{"NRGBA": img, "YCbCr": fromJPEG} {
		sq := images.Square(src, 64)
		for _, p := range []image.Point{{0, 0}, {31, 17}, {63, 63}} {
			r, _, _, a := sq.At(p.X, p.Y).RGBA()
			if r>>8 < 100 || r>>8 > 155 || a>>8 != 255 {
				t.Errorf("%s: pixel %v = %d (alpha %d), want a mid grey", name, p, r>>8, a>>8)
			}
		}
	}
}
