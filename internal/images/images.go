// Package images reads the pictures users upload and writes them again:
// decoded under a pixel limit (a small file can claim a huge picture),
// then re-encoded from their pixels alone, so no metadata survives (EXIF,
// GPS positions) and no file is both a picture and something else (a
// polyglot). It also makes the square copies shown in lists.
package images

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/draw"
	_ "image/gif" // registered with image.Decode
	"image/jpeg"
	"image/png"
	"io"

	xdraw "golang.org/x/image/draw"
	_ "golang.org/x/image/webp" // registered with image.Decode
)

// MaxPixels is the most pixels a picture may have: 25 megapixels, a
// 6000 × 4000 camera photo. Decoding one takes up to 100 MB (4 bytes a
// pixel); Decode lets two run at once in a process.
const MaxPixels = 25_000_000

// ErrNotImage is a file that is not a PNG, JPEG, GIF or WebP picture, or
// one that does not decode whole.
var ErrNotImage = errors.New("not a PNG, JPEG, GIF or WebP picture")

// ErrTooLarge is a picture of more pixels than allowed.
var ErrTooLarge = errors.New("the picture has too many pixels")

// slots bounds how many pictures are decoded at once in this process, and
// so the memory decoding takes.
var slots = make(chan struct{}, 2)

// Decode reads the picture in r: its header first, refusing more than
// maxPixels pixels before anything is allocated for them (ErrTooLarge),
// then the whole of it. Anything else than a PNG, JPEG, GIF (its first
// frame) or WebP, or a file that does not decode, is ErrNotImage. It
// returns the format's name: png, jpeg, gif or webp.
func Decode(r io.ReadSeeker, maxPixels int) (image.Image, string, error) {
	cfg, format, err := image.DecodeConfig(r)
	if err != nil {
		return nil, "", ErrNotImage
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, "", ErrNotImage
	}
	if int64(cfg.Width)*int64(cfg.Height) > int64(maxPixels) {
		return nil, "", fmt.Errorf("%w: %d × %d", ErrTooLarge, cfg.Width, cfg.Height)
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, "", err
	}
	slots <- struct{}{}
	defer func() { <-slots }()
	img, again, err := image.Decode(r)
	if err != nil || again != format {
		return nil, "", ErrNotImage
	}
	b := img.Bounds()
	if b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return nil, "", ErrNotImage
	}
	return img, format, nil
}

// JPEGQuality is the quality pictures are written at.
const JPEGQuality = 85

// Encode writes img anew: a PNG when it has transparent pixels, a JPEG
// otherwise. Only pixels are written.
func Encode(img image.Image) ([]byte, string, error) {
	ct := "image/png"
	if opaque(img) {
		ct = "image/jpeg"
	}
	data, err := EncodeAs(img, ct)
	return data, ct, err
}

// EncodeAs writes img as contentType, image/jpeg or image/png (a copy is
// written as its original was).
func EncodeAs(img image.Image, contentType string) ([]byte, error) {
	var buf bytes.Buffer
	var err error
	switch contentType {
	case "image/jpeg":
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: JPEGQuality})
	case "image/png":
		enc := png.Encoder{CompressionLevel: png.BestSpeed}
		err = enc.Encode(&buf, img)
	default:
		err = fmt.Errorf("images: cannot write %s", contentType)
	}
	if err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// opaque reports whether every pixel of img is opaque: the image types
// of the standard library say so themselves.
func opaque(img image.Image) bool {
	if o, ok := img.(interface{ Opaque() bool }); ok {
		return o.Opaque()
	}
	return false
}

// Fit scales img down, keeping its proportions, so that neither side is
// longer than side; an image that fits already is returned as it is.
func Fit(img image.Image, side int) image.Image {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= side && h <= side {
		return img
	}
	if w >= h {
		w, h = side, max(1, h*side/w)
	} else {
		w, h = max(1, w*side/h), side
	}
	dst := image.NewNRGBA(image.Rect(0, 0, w, h))
	xdraw.CatmullRom.Scale(dst, dst.Bounds(), img, b, draw.Src, nil)
	return keepOpaque(dst, img)
}

// Square cuts the largest centred square out of img and scales it to
// side × side pixels (up, for a smaller picture).
func Square(img image.Image, side int) image.Image {
	b := img.Bounds()
	n := min(b.Dx(), b.Dy())
	x0 := b.Min.X + (b.Dx()-n)/2
	y0 := b.Min.Y + (b.Dy()-n)/2
	src := image.Rect(x0, y0, x0+n, y0+n)
	dst := image.NewNRGBA(image.Rect(0, 0, side, side))
	xdraw.CatmullRom.Scale(dst, dst.Bounds(), img, src, draw.Src, nil)
	return keepOpaque(dst, img)
}

// keepOpaque returns dst as an image that says it is opaque when src
// was, so that Encode keeps writing a JPEG for it (scaling may leave
// alpha values a hair under full).
func keepOpaque(dst *image.NRGBA, src image.Image) image.Image {
	if !opaque(src) {
		return dst
	}
	for i := 3; i < len(dst.Pix); i += 4 {
		dst.Pix[i] = 0xff
	}
	return dst
}
