package images

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"testing"
)

// TestReencodeWaitsForASlot: with both slots taken (two pictures being
// made), a third waits, and gives up when its request ends. Not
// parallel: it holds the process's slots.
func TestReencodeWaitsForASlot(t *testing.T) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 8, 8))); err != nil {
		t.Fatal(err)
	}
	for range cap(slots) {
		slots <- struct{}{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := Reencode(ctx, bytes.NewReader(buf.Bytes()), MaxPixels, 64)
	for range cap(slots) {
		<-slots
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Reencode with every slot taken = %v, want context.Canceled", err)
	}
	// With a slot free, the same picture goes through.
	data, ct, err := Reencode(context.Background(), bytes.NewReader(buf.Bytes()), MaxPixels, 64)
	if err != nil || ct != "image/jpeg" || len(data) == 0 {
		t.Fatalf("Reencode = %d bytes of %q, %v", len(data), ct, err)
	}
}
