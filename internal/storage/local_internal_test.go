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
