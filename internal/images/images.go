// Package images reads the pictures users upload and writes them again:
// decoded under a pixel limit (a small file can claim a huge picture),
// then re-encoded from their pixels alone, so no metadata survives (EXIF,
// GPS positions) and no file is both a picture and something else (a
// polyglot). It also makes the square copies shown in lists.
package images

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	_ "image/gif" // registered with image.Decode
	"image/jpeg"
	"image/png"
	"io"
	"runtime"

	xdraw "golang.org/x/image/draw"
	_ "golang.org/x/image/webp" // registered with image.Decode
)

// MaxPixels is the most pixels a picture may have: 25 megapixels, a
// 6000 × 4000 camera photo. Decoding one takes up to 100 MB (4 bytes a
// pixel); only one is decoded at a time in a process. A picture whose
// pixels cost more to decode (a PNG of 16 bits a channel, an interlaced
// PNG, a progressive JPEG: pixelCost) may have fewer of them, so that it
// takes no more.
const MaxPixels = 25_000_000

// ErrNotImage is a file that is not a PNG, JPEG, GIF or WebP picture, or
// one that does not decode whole.
var ErrNotImage = errors.New("not a PNG, JPEG, GIF or WebP picture")

// ErrTooLarge is a picture of more pixels than allowed.
var ErrTooLarge = errors.New("the picture has too many pixels")

// slots bounds how many pictures are decoded at once in this process
// (one), and so the memory decoding takes.
var slots = make(chan struct{}, 1)

// Decode reads the picture in r: its header first, refusing more than
// maxPixels pixels before anything is allocated for them (ErrTooLarge),
// then the whole of it. Anything else than a PNG, JPEG, GIF (its first
// frame) or WebP, or a file that does not decode, is ErrNotImage. It
// returns the format's name: png, jpeg, gif or webp. One picture is
// decoded at a time in a process (Reencode's included).
func Decode(r io.ReadSeeker, maxPixels int) (image.Image, string, error) {
	cfg, format, err := checkHeader(r, maxPixels)
	if err != nil {
		return nil, "", err
	}
	slots <- struct{}{}
	defer func() { <-slots }()
	img, err := decode(r, cfg, format)
	return img, format, err
}

// Reencode reads the picture in r as Decode does, scales it down to at
// most maxSide pixels a side (Fit), and writes it again (Encode). It
// holds the process's one slot from decoding to the encoded bytes, so
// that however many uploads arrive at once, one full-size picture is in
// memory; waiting for the slot ends with ctx. Before it gives the slot
// up it collects the garbage, so that the next picture is decoded into
// the memory this one took rather than beside it: with ten 10 MiB
// pictures sent at once (make bench), the process grows by one decoded
// picture (14 MiB for 3.5 MP), not by ten, nor by two and the
// collector's headroom (58 MiB with two slots and no collection).
func Reencode(ctx context.Context, r io.ReadSeeker, maxPixels, maxSide int) ([]byte, string, error) {
	cfg, format, err := checkHeader(r, maxPixels)
	if err != nil {
		return nil, "", err
	}
	select {
	case slots <- struct{}{}:
		defer func() { <-slots }()
	case <-ctx.Done():
		return nil, "", ctx.Err()
	}
	img, err := decode(r, cfg, format)
	if err != nil {
		return nil, "", err
	}
	data, ct, err := Encode(Fit(img, maxSide))
	img = nil
	runtime.GC() // a few milliseconds, beside the decoding's hundred
	return data, ct, err
}

// checkHeader reads the header of the picture in r, refusing what is not
// one and one of more than maxPixels pixels, rewinds r, and returns the
// header and the format's name.
func checkHeader(r io.ReadSeeker, maxPixels int) (image.Config, string, error) {
	cfg, format, err := image.DecodeConfig(r)
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 {
		return cfg, "", ErrNotImage
	}
	if int64(cfg.Width)*int64(cfg.Height) > int64(maxPixels) {
		return cfg, "", fmt.Errorf("%w: %d × %d", ErrTooLarge, cfg.Width, cfg.Height)
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return cfg, "", err
	}
	// Some pictures' pixels cost more than 4 bytes each to decode
	// (pixelCost): they are held to the memory the limit allows.
	if per := pixelCost(r, cfg, format); float64(cfg.Width)*float64(cfg.Height)*per > float64(maxPixels)*4 {
		return cfg, "", fmt.Errorf("%w: %d × %d at %g bytes a pixel", ErrTooLarge, cfg.Width, cfg.Height, per)
	}
	_, err = r.Seek(0, io.SeekStart)
	return cfg, format, err
}

// pixelCost is about how many bytes a pixel of the picture in r (whose
// header is cfg) takes to decode, at most 4 for most: more for a
// progressive JPEG (progressiveCost), for a PNG of 16 bits a channel (8
// bytes a pixel), and twice as much for an interlaced PNG (Go decodes
// each of its seven passes whole before the picture). r is at the
// picture's start.
func pixelCost(r io.Reader, cfg image.Config, format string) float64 {
	switch format {
	case "jpeg":
		if per := progressiveCost(r); per > 0 {
			return per
		}
	case "png":
		per := 4.0
		if cfg.ColorModel == color.RGBA64Model || cfg.ColorModel == color.NRGBA64Model {
			per = 8
		}
		// The signature (8 bytes), the IHDR chunk's length and type (8),
		// then width, height, depth, colour type, compression, filter
		// (12): the interlace method is the 29th byte.
		var head [29]byte
		if _, err := io.ReadFull(r, head[:]); err == nil && head[28] == 1 {
			per *= 2
		}
		return per
	}
	return 4
}

// progressiveCost is the bytes a pixel of the JPEG in r takes to decode
// when it is progressive, 0 when it is not (or r is no JPEG, or one it
// cannot read: the decoder then refuses it). Go's
// decoder keeps every coefficient of a progressive JPEG until its last
// scan, 4 bytes for each pixel of each component (fewer for the colour
// of a subsampled one), then the picture itself, a quarter of that
// again: a few hundred kilobytes of 5000 × 5000 CMYK take 480 MB where
// the pixel limit allows 4 bytes a pixel (100 MB). Checked against that,
// a progressive photo (YCbCr 4:2:0, 7.5 bytes a pixel) may have up to
// 13 megapixels, a 4:4:4 or CMYK one fewer.
func progressiveCost(r io.Reader) float64 {
	br := bufio.NewReader(r)
	var soi [2]byte
	if _, err := io.ReadFull(br, soi[:]); err != nil || soi != [2]byte{0xff, 0xd8} {
		return 0
	}
	for {
		// A marker: 0xff (any number of them), then its code.
		b, err := br.ReadByte()
		if err != nil || b != 0xff {
			return 0
		}
		code := byte(0xff)
		for code == 0xff {
			if code, err = br.ReadByte(); err != nil {
				return 0
			}
		}
		if code == 0x01 || (code >= 0xd0 && code <= 0xd7) {
			continue // no length: TEM, RSTn
		}
		var n [2]byte
		if _, err := io.ReadFull(br, n[:]); err != nil {
			return 0
		}
		size := int(n[0])<<8 | int(n[1]) - 2
		if size < 0 {
			return 0
		}
		switch {
		case code == 0xc2 || code == 0xc6 || code == 0xca || code == 0xce:
			// A progressive frame: 8 bytes of header, then 3 a component.
			sof := make([]byte, size)
			if _, err := io.ReadFull(br, sof); err != nil || size < 6 {
				return 0
			}
			comps := int(sof[5])
			if comps == 0 || size < 6+3*comps {
				return 0
			}
			hmax, vmax, blocks := 1, 1, 0
			for c := range comps {
				hv := sof[6+3*c+1]
				h, v := int(hv>>4), int(hv&0x0f)
				hmax, vmax = max(hmax, h), max(vmax, v)
				blocks += h * v
			}
			return 5 * float64(blocks) / float64(hmax*vmax)
		case code >= 0xc0 && code <= 0xcf && code != 0xc4 && code != 0xc8 && code != 0xcc:
			return 0 // a sequential frame: decoded into the picture directly
		case code == 0xd9 || code == 0xda:
			return 0 // no frame before the end or the first scan
		}
		if _, err := br.Discard(size); err != nil {
			return 0
		}
	}
}

// decode reads the whole picture in r, whose header (cfg, format)
// checkHeader passed: a picture that does not decode, or not to the size
// its header said, is ErrNotImage.
func decode(r io.Reader, cfg image.Config, format string) (image.Image, error) {
	img, again, err := image.Decode(r)
	if err != nil || again != format {
		return nil, ErrNotImage
	}
	if b := img.Bounds(); b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		screen := image.Rect(0, 0, cfg.Width, cfg.Height)
		if format != "gif" || !b.In(screen) {
			return nil, ErrNotImage
		}
		// A GIF's first frame may cover part of its logical screen (an
		// animation drawing on a background): it is put where it goes,
		// the rest left transparent, as a browser shows it.
		canvas := image.NewNRGBA(screen)
		draw.Draw(canvas, b, img, b.Min, draw.Src)
		img = canvas
	}
	return img, nil
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
	return scale(img, b, w, h)
}

// Square cuts the largest centred square out of img and scales it to
// side × side pixels (up, for a smaller picture).
func Square(img image.Image, side int) image.Image {
	b := img.Bounds()
	n := min(b.Dx(), b.Dy())
	x0 := b.Min.X + (b.Dx()-n)/2
	y0 := b.Min.Y + (b.Dy()-n)/2
	return scale(img, image.Rect(x0, y0, x0+n, y0+n), side, side)
}

// scale draws the part r of img into a new w × h picture. A large
// reduction first averages k × k blocks of pixels (k the whole number of
// times the picture is larger, so no pixel is skipped and nothing
// shimmers), then interpolates the rest (less than twice) bilinearly.
// Neither step allocates more than its output: x/image/draw's kernels
// keep a float64 buffer of the width of the output by the height of the
// input, 45 MiB for a 1024-pixel copy of a 3.5-megapixel photo.
func scale(img image.Image, r image.Rectangle, w, h int) image.Image {
	if k := min(r.Dx()/w, r.Dy()/h); k >= 2 {
		img, r = boxReduce(img, r, k), image.Rect(0, 0, r.Dx()/k, r.Dy()/k)
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	xdraw.ApproxBiLinear.Scale(dst, dst.Bounds(), img, r, draw.Src, nil)
	return dst
}

// boxReduce averages each k × k block of the part r of img into one
// pixel, in premultiplied colour (so transparent pixels lend no colour).
// A fully opaque picture stays fully opaque.
func boxReduce(img image.Image, r image.Rectangle, k int) *image.RGBA {
	w, h := r.Dx()/k, r.Dy()/k
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	sums := make([]uint32, 4*w)
	n := uint32(k * k)
	at := premultiplied(img)
	for y := range h {
		clear(sums)
		for sy := r.Min.Y + y*k; sy < r.Min.Y+(y+1)*k; sy++ {
			for x := range w {
				s := sums[4*x : 4*x+4]
				for sx := r.Min.X + x*k; sx < r.Min.X+(x+1)*k; sx++ {
					cr, cg, cb, ca := at(sx, sy)
					s[0] += cr
					s[1] += cg
					s[2] += cb
					s[3] += ca
				}
			}
		}
		row := dst.Pix[y*dst.Stride:]
		for i, v := range sums {
			row[i] = uint8((v + n/2) / n)
		}
	}
	return dst
}

// premultiplied reads img's pixels as 8-bit premultiplied colour: straight
// from the pixel arrays of the types decoders give (At boxes each colour
// in an interface, a 4-byte allocation a pixel), through At for others.
func premultiplied(img image.Image) func(x, y int) (r, g, b, a uint32) {
	switch m := img.(type) {
	case *image.RGBA:
		return func(x, y int) (uint32, uint32, uint32, uint32) {
			p := m.Pix[m.PixOffset(x, y):]
			return uint32(p[0]), uint32(p[1]), uint32(p[2]), uint32(p[3])
		}
	case *image.NRGBA:
		return func(x, y int) (uint32, uint32, uint32, uint32) {
			p := m.Pix[m.PixOffset(x, y):]
			a := uint32(p[3])
			return (uint32(p[0])*a + 127) / 255, (uint32(p[1])*a + 127) / 255, (uint32(p[2])*a + 127) / 255, a
		}
	case *image.YCbCr:
		return func(x, y int) (uint32, uint32, uint32, uint32) {
			r, g, b := color.YCbCrToRGB(m.Y[m.YOffset(x, y)], m.Cb[m.COffset(x, y)], m.Cr[m.COffset(x, y)])
			return uint32(r), uint32(g), uint32(b), 255
		}
	}
	return func(x, y int) (uint32, uint32, uint32, uint32) {
		r, g, b, a := img.At(x, y).RGBA()
		return r >> 8, g >> 8, b >> 8, a >> 8
	}
}
