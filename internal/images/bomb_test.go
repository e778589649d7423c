package images_test

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"testing"

	"github.com/launchkit/launchkit/internal/images"
)

// progressiveJPEG is a w × h progressive JPEG of comps components, each
// sampled at full resolution, holding a single DC scan of zeros: a few
// hundred kilobytes that Go's decoder must keep every coefficient of (4
// bytes for each pixel of each component) until the file ends.
func progressiveJPEG(w, h, comps int) []byte {
	var b bytes.Buffer
	seg := func(marker byte, data []byte) {
		b.Write([]byte{0xff, marker})
		_ = binary.Write(&b, binary.BigEndian, uint16(len(data)+2))
		b.Write(data)
	}
	b.Write([]byte{0xff, 0xd8})
	dqt := make([]byte, 65)
	for i := 1; i < 65; i++ {
		dqt[i] = 1
	}
	seg(0xdb, dqt)
	sof := []byte{8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), byte(comps)}
	for c := range comps {
		sof = append(sof, byte(c+1), 0x11, 0)
	}
	seg(0xc2, sof)
	// A DC table of one code, 0 (1 bit), for the difference category 0.
	dht := append([]byte{0x00, 1}, make([]byte, 15)...)
	seg(0xc4, append(dht, 0))
	sos := []byte{byte(comps)}
	for c := range comps {
		sos = append(sos, byte(c+1), 0x00)
	}
	seg(0xda, append(sos, 0, 0, 0))
	blocks := ((w + 7) / 8) * ((h + 7) / 8) * comps
	b.Write(make([]byte, (blocks+7)/8))
	b.Write([]byte{0xff, 0xd9})
	return b.Bytes()
}

// TestDecodeMemoryOfAProgressiveJPEG: a progressive JPEG within the pixel
// limit must not take more memory to decode than the limit allows a
// picture (4 bytes a pixel), whatever its components.
func TestDecodeMemoryOfAProgressiveJPEG(t *testing.T) {
	file := progressiveJPEG(5000, 5000, 4)
	t.Logf("file: %d bytes", len(file))
	var err error
	n := allocated(func() { _, _, err = images.Decode(bytes.NewReader(file), images.MaxPixels) })
	t.Logf("decode: err %v, %d MB allocated", err, n>>20)
	if limit := uint64(images.MaxPixels) * 4 * 5 / 4; n > limit {
		t.Errorf("decoding a %d-byte progressive JPEG allocated %d MB, more than %d MB", len(file), n>>20, limit>>20)
	}
}

// TestAProgressiveJPEGOfAFewMegapixelsIsNotTooLarge: the cost of a
// progressive JPEG refuses bombs, not photos.
func TestAProgressiveJPEGOfAFewMegapixelsIsNotTooLarge(t *testing.T) {
	file := progressiveJPEG(2000, 2000, 3)
	if _, _, err := images.Decode(bytes.NewReader(file), images.MaxPixels); errors.Is(err, images.ErrTooLarge) {
		t.Errorf("a 2000 × 2000 progressive JPEG: %v", err)
	}
	if _, _, err := images.Decode(bytes.NewReader(progressiveJPEG(5000, 5000, 3)), images.MaxPixels); !errors.Is(err, images.ErrTooLarge) {
		t.Errorf("a 5000 × 5000 progressive 4:4:4 JPEG (375 MB to decode): %v, want ErrTooLarge", err)
	}
}

// zeroPNG is a w × h PNG of depth bits a channel, RGBA, interlaced or
// not, all of whose pixels are zero: a few hundred kilobytes however
// many pixels it has.
func zeroPNG(t *testing.T, w, h, depth int, interlaced bool) []byte {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(kind string, data []byte) {
		_ = binary.Write(&b, binary.BigEndian, uint32(len(data)))
		c := append([]byte(kind), data...)
		b.Write(c)
		_ = binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(c))
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9] = byte(depth), 6
	rowBytes := func(cols int) int { return 1 + cols*4*depth/8 }
	raw := 0
	if interlaced {
		ihdr[12] = 1
		// Adam7: each pass's start and step, across and down.
		for _, p := range [7][4]int{{0, 8, 0, 8}, {4, 8, 0, 8}, {0, 4, 4, 8}, {2, 4, 0, 4}, {0, 2, 2, 4}, {1, 2, 0, 2}, {0, 1, 1, 2}} {
			cols, rows := (w-p[0]+p[1]-1)/p[1], (h-p[2]+p[3]-1)/p[3]
			if cols > 0 && rows > 0 {
				raw += rows * rowBytes(cols)
			}
		}
	} else {
		raw = h * rowBytes(w)
	}
	chunk("IHDR", ihdr)
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestSpeed)
	zero := make([]byte, 1<<20)
	for raw > 0 {
		n := min(raw, len(zero))
		_, _ = zw.Write(zero[:n])
		raw -= n
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	chunk("IDAT", z.Bytes())
	chunk("IEND", nil)
	return b.Bytes()
}

// TestDecodeMemoryOfA16BitInterlacedPNG: a PNG within the pixel limit
// must not take more memory to decode than the limit allows a picture (4
// bytes a pixel): 16 bits a channel take 8 bytes a pixel, and an
// interlaced one is decoded pass by pass before the whole.
func TestDecodeMemoryOfA16BitInterlacedPNG(t *testing.T) {
	for _, tc := range []struct {
		depth      int
		interlaced bool
	}{{16, true}, {16, false}, {8, true}} {
		file := zeroPNG(t, 5000, 5000, tc.depth, tc.interlaced)
		var err error
		n := allocated(func() { _, _, err = images.Decode(bytes.NewReader(file), images.MaxPixels) })
		t.Logf("%d bits, interlaced %v: %d KB file, err %v, %d MB allocated", tc.depth, tc.interlaced, len(file)>>10, err, n>>20)
		if limit := uint64(images.MaxPixels) * 4 * 5 / 4; n > limit {
			t.Errorf("decoding a %d KB %d-bit PNG (interlaced %v) allocated %d MB, more than %d MB", len(file)>>10, tc.depth, tc.interlaced, n>>20, limit>>20)
		}
	}
	// Smaller, they are taken.
	if _, _, err := images.Decode(bytes.NewReader(zeroPNG(t, 1500, 1500, 16, true)), images.MaxPixels); err != nil {
		t.Errorf("a 1500 × 1500 16-bit interlaced PNG: %v", err)
	}
}

// TestAGIFWhoseFirstFrameIsSmallerThanItsScreen: a GIF's first frame may
// cover part of its logical screen only (an animation that draws on a
// background): it is a picture, not a damaged file. A huge screen with a
// tiny frame is still refused from its header.
func TestAGIFWhoseFirstFrameIsSmallerThanItsScreen(t *testing.T) {
	frame := image.NewPaletted(image.Rect(10, 10, 30, 30), color.Palette{color.Black, color.White})
	var b bytes.Buffer
	if err := gif.EncodeAll(&b, &gif.GIF{Image: []*image.Paletted{frame}, Delay: []int{0}, Config: image.Config{Width: 40, Height: 40, ColorModel: frame.Palette}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := images.Decode(bytes.NewReader(b.Bytes()), images.MaxPixels); err != nil {
		t.Errorf("a 40 × 40 GIF whose first frame is 20 × 20: %v", err)
	}
	b.Reset()
	if err := gif.EncodeAll(&b, &gif.GIF{Image: []*image.Paletted{frame}, Delay: []int{0}, Config: image.Config{Width: 65535, Height: 65535, ColorModel: frame.Palette}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := images.Decode(bytes.NewReader(b.Bytes()), images.MaxPixels); !errors.Is(err, images.ErrTooLarge) {
		t.Errorf("a 65535 × 65535 GIF of a 20 × 20 frame: %v", err)
	}
}
