package web

import (
	"context"
	"errors"
	"os"
	"testing"
)

// TestPicturesWaitForASlot: with every slot taken (two pictures being
// made), a third waits, and gives up when its request ends, without
// reading the file. Not parallel: it holds the process's slots.
func TestPicturesWaitForASlot(t *testing.T) {
	for range cap(pictureSlots) {
		pictureSlots <- struct{}{}
	}
	defer func() {
		for range cap(pictureSlots) {
			<-pictureSlots
		}
	}()
	tmp, err := os.CreateTemp(t.TempDir(), "upload-*")
	if err != nil {
		t.Fatal(err)
	}
	defer tmp.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f := newForm()
	p, err := readAvatar(ctx, f, &upload{File: tmp, Size: 1, ContentType: "image/png"})
	if !errors.Is(err, context.Canceled) || p != nil || !f.ok() {
		t.Errorf("readAvatar = %v, %v, errors %v; want it to wait, then context.Canceled", p, err, f.Errors)
	}
}
