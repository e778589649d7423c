package storage

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"
)

// Local keeps objects as files under a directory: one server's disk, or
// a volume every web and worker process of the app mounts. Every path is
// opened through an os.Root, so no key can reach outside the directory
// (nor can a symbolic link inside it). Objects are written to a
// temporary file and renamed into place, so a reader never sees half of
// one.
type Local struct {
	root *os.Root
	dir  string
}

// tmpDir is the directory under the root where objects are written
// before they are renamed into place; List skips it.
const tmpDir = ".tmp"

// NewLocal opens (making it when missing) the directory dir.
func NewLocal(dir string) (*Local, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("storage: make %s: %w", dir, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("storage: open %s: %w", dir, err)
	}
	if err := root.MkdirAll(tmpDir, 0o750); err != nil {
		root.Close()
		return nil, fmt.Errorf("storage: make %s/%s: %w", dir, tmpDir, err)
	}
	return &Local{root: root, dir: dir}, nil
}

// Backend is "local".
func (l *Local) Backend() string { return "local" }

// Dir is the directory the objects are kept in.
func (l *Local) Dir() string { return l.dir }

// Close releases the directory.
func (l *Local) Close() error { return l.root.Close() }

// Put writes body to a temporary file, then renames it to key.
func (l *Local) Put(ctx context.Context, key string, body io.ReadSeeker, size int64, _ string) (err error) {
	if err := checkKey(key); err != nil {
		return err
	}
	tmp := path.Join(tmpDir, strings.ToLower(rand.Text()))
	f, err := l.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return fmt.Errorf("storage: put %s: %w", key, err)
	}
	defer func() {
		if err != nil {
			_ = l.root.Remove(tmp)
		}
	}()
	n, err := io.Copy(f, io.LimitReader(ctxReader{ctx, body}, size+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != size {
		err = fmt.Errorf("%d bytes where %d were announced", n, size)
	}
	if err == nil {
		err = l.root.MkdirAll(path.Dir(key), 0o750)
	}
	if err == nil {
		err = l.root.Rename(tmp, key)
	}
	if err != nil {
		return fmt.Errorf("storage: put %s: %w", key, err)
	}
	return nil
}

// Open opens the file of key.
func (l *Local) Open(_ context.Context, key string) (io.ReadCloser, Object, error) {
	if !ValidKey(key) {
		return nil, Object{}, ErrNotFound
	}
	f, err := l.root.Open(key)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, Object{}, ErrNotFound
	} else if err != nil {
		return nil, Object{}, fmt.Errorf("storage: open %s: %w", key, err)
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		f.Close()
		if err == nil {
			return nil, Object{}, ErrNotFound
		}
		return nil, Object{}, fmt.Errorf("storage: open %s: %w", key, err)
	}
	return f, Object{Key: key, Size: st.Size(), ContentType: TypeOfKey(key), Modified: st.ModTime().UTC()}, nil
}

// Delete removes the file of key.
func (l *Local) Delete(_ context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := l.root.Remove(key); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("storage: delete %s: %w", key, err)
	}
	return nil
}

// List walks the directory (not its temporary files).
func (l *Local) List(ctx context.Context, fn func(Object) error) error {
	return fs.WalkDir(l.root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if d.IsDir() {
			if p == tmpDir {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !ValidKey(p) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil // gone since the directory was read
		}
		return fn(Object{Key: p, Size: info.Size(), ContentType: TypeOfKey(p), Modified: info.ModTime().UTC()})
	})
}

// PurgeTemp removes the temporary files of writes that never finished
// (a process killed mid-upload) last changed before before, and reports
// how many it removed. Sweep calls it.
func (l *Local) PurgeTemp(before time.Time) (int, error) {
	entries, err := fs.ReadDir(l.root.FS(), tmpDir)
	if err != nil {
		return 0, fmt.Errorf("storage: read %s: %w", tmpDir, err)
	}
	n := 0
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.ModTime().Before(before) {
			continue
		}
		if err := l.root.Remove(path.Join(tmpDir, e.Name())); err == nil {
			n++
		}
	}
	return n, nil
}

// URL is "": the app serves local files itself.
func (l *Local) URL(context.Context, string, Download) (string, error) { return "", nil }

// ctxReader stops a copy when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
