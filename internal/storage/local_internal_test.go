package storage

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestSweepRemovesUnfinishedLocalUploads(t *testing.T) {
	dir := t.TempDir()
	l, err := NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	now := time.Now()
	old := filepath.Join(dir, tmpDir, "killed-mid-upload")
	young := filepath.Join(dir, tmpDir, "being-written")
	for _, p := range []string{old, young} {
		if err := os.WriteFile(p, []byte("part"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chtimes(old, now.Add(-48*time.Hour), now.Add(-48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := l.Put(t.Context(), "kept/aaaa.txt", bytes.NewReader([]byte("x")), 1, "text/plain"); err != nil {
		t.Fatal(err)
	}
	f := &Files{Store: l, Logger: slog.New(slog.DiscardHandler)}
	// Nothing is old enough among the objects: the database is not asked.
	if _, err := f.Sweep(t.Context(), now, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("the unfinished upload of two days ago is still there (%v)", err)
	}
	if _, err := os.Stat(young); err != nil {
		t.Errorf("the upload being written was removed: %v", err)
	}
}

// TestASymbolicLinkOutOfTheDirectoryIsNoObject: THE ATTACK (someone who
// can write into STORAGE_DIR, or an operator's mistake). A key that is a
// symbolic link to a file outside the directory does not open it (an
// error the request logs and alerts about: a link there is a mistake to
// see, not a missing file), List leaves it out, and deleting it removes
// the link, never the file it points to.
func TestASymbolicLinkOutOfTheDirectoryIsNoObject(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	secret := filepath.Join(outside, "secret.txt")
	if err := os.WriteFile(secret, []byte("password=hunter2"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := os.MkdirAll(filepath.Join(dir, "avatars"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(dir, "avatars", "link.png")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "linkdir")); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"avatars/link.png", "linkdir/secret.txt"} {
		if body, _, err := l.Open(t.Context(), key); err == nil {
			body.Close()
			t.Errorf("Open(%s) opened the file outside", key)
		}
	}
	_ = l.List(t.Context(), func(o Object) error {
		t.Errorf("listed %s", o.Key)
		return nil
	})
	for _, key := range []string{"avatars/link.png", "linkdir/secret.txt"} {
		_ = l.Delete(t.Context(), key)
	}
	if _, err := os.Stat(secret); err != nil {
		t.Errorf("the file outside is gone: %v", err)
	}
}
