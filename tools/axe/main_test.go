package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tarball is an npm-style .tgz holding package/axe.min.js = js.
func tarball(t *testing.T, js string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, body := range map[string]string{"package/package.json": "{}", "package/axe.min.js": js} {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func registry(t *testing.T, tgz []byte, hits *int) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*hits++
		if r.URL.Path != "/axe-core/-/axe-core-9.9.9.tgz" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(tgz)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestFetchChecksTheSumAndCaches(t *testing.T) {
	tgz := tarball(t, "window.axe = {};")
	sum := sha256.Sum256(tgz)
	hits := 0
	reg := registry(t, tgz, &hits)
	cache := t.TempDir()
	p := pin{Version: "9.9.9", SHA256: hex.EncodeToString(sum[:])}

	path, err := fetch(context.Background(), p, reg, cache)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(cache, "launchkit", "axe-core-9.9.9", "axe.min.js"); path != want {
		t.Errorf("path %s, want %s", path, want)
	}
	if got, _ := os.ReadFile(path); string(got) != "window.axe = {};" {
		t.Errorf("extracted %q", got)
	}
	if _, err := fetch(context.Background(), p, reg, cache); err != nil || hits != 1 {
		t.Errorf("second fetch: %v, %d downloads; want the cached copy", err, hits)
	}
}

func TestFetchRefusesAnotherTarball(t *testing.T) {
	hits := 0
	reg := registry(t, tarball(t, "evil()"), &hits)
	cache := t.TempDir()
	p := pin{Version: "9.9.9", SHA256: strings.Repeat("0", 64)}
	_, err := fetch(context.Background(), p, reg, cache)
	if err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Fatalf("err = %v, want the sum refused", err)
	}
	if _, err := os.Stat(filepath.Join(cache, "launchkit", "axe-core-9.9.9", "axe.min.js")); !os.IsNotExist(err) {
		t.Errorf("a refused tarball left a file in the cache (%v)", err)
	}
}

func TestThePinIsWellFormed(t *testing.T) {
	p, err := readPin("../../e2e/axe.version")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p.Version, "4.") {
		t.Errorf("version %q", p.Version)
	}
	if _, err := hex.DecodeString(p.SHA256); err != nil {
		t.Errorf("sha256 %q: %v", p.SHA256, err)
	}
}
