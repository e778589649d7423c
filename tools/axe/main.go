// Command axe fetches the pinned axe-core the browser tests run: the
// version and the sha256 of its npm tarball are in e2e/axe.version. It
// downloads the tarball from the npm registry, refuses it unless its
// sha256 matches, extracts package/axe.min.js into the user's cache
// ($XDG_CACHE_HOME, else ~/.cache, then launchkit/axe-core-VERSION/) and
// prints that file's path. A copy already in the cache is not fetched
// again.
//
//	go run ./tools/axe            (make axe)
//	AXE_JS=$(go run ./tools/axe) go test -run TestEveryPage ./e2e
//
// axe-core (MPL-2.0) is a test-only tool: nothing of it is kept in the
// repository or served by the app.
package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	versionFile := flag.String("pin", "e2e/axe.version", "the file naming the version and its tarball's sha256")
	registry := flag.String("registry", "https://registry.npmjs.org", "the npm registry to download from")
	flag.Parse()
	pin, err := readPin(*versionFile)
	if err == nil {
		var path string
		path, err = fetch(context.Background(), pin, *registry, "")
		if err == nil {
			fmt.Println(path)
			return
		}
	}
	fmt.Fprintln(os.Stderr, "axe:", err)
	os.Exit(1)
}

// pin is the axe-core release the tests use.
type pin struct {
	Version, SHA256 string
}

// readPin reads "version X" and "sha256 H" lines; # starts a comment.
func readPin(name string) (pin, error) {
	f, err := os.Open(name)
	if err != nil {
		return pin{}, err
	}
	defer f.Close()
	var p pin
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, value, _ := strings.Cut(line, " ")
		switch key {
		case "version":
			p.Version = strings.TrimSpace(value)
		case "sha256":
			p.SHA256 = strings.ToLower(strings.TrimSpace(value))
		default:
			return pin{}, fmt.Errorf("%s: unknown line %q", name, line)
		}
	}
	if err := sc.Err(); err != nil {
		return pin{}, err
	}
	if p.Version == "" || len(p.SHA256) != 64 {
		return pin{}, fmt.Errorf("%s: want a version line and a sha256 line of 64 hex digits", name)
	}
	return p, nil
}

// cachePath is where the tests look for axe.min.js of version (e2e
// computes the same path): under cacheDir, or the user's cache directory
// when cacheDir is "".
func cachePath(cacheDir, version string) (string, error) {
	if cacheDir == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("no cache directory (set XDG_CACHE_HOME or HOME): %w", err)
		}
		cacheDir = dir
	}
	return filepath.Join(cacheDir, "launchkit", "axe-core-"+version, "axe.min.js"), nil
}

// fetch makes sure the cache holds the pinned axe.min.js and returns its
// path.
func fetch(ctx context.Context, p pin, registry, cacheDir string) (string, error) {
	path, err := cachePath(cacheDir, p.Version)
	if err != nil {
		return "", err
	}
	if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
		return path, nil
	}
	url := strings.TrimRight(registry, "/") + "/axe-core/-/axe-core-" + p.Version + ".tgz"
	tgz, err := download(ctx, url)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(tgz)
	if got := hex.EncodeToString(sum[:]); got != p.SHA256 {
		return "", fmt.Errorf("%s has sha256 %s, but e2e/axe.version pins %s: refusing it", url, got, p.SHA256)
	}
	js, err := extract(tgz, "package/axe.min.js")
	if err != nil {
		return "", fmt.Errorf("%s: %w", url, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	// Written beside and renamed: a test never reads half a file.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".axe-*.js")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(js); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", err
	}
	return path, nil
}

func download(ctx context.Context, url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 64<<20))
}

// extract returns the file name from the gzipped tar archive tgz.
func extract(tgz []byte, name string) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("no %s in the archive", name)
		}
		if err != nil {
			return nil, err
		}
		if h.Name == name && h.Typeflag == tar.TypeReg {
			return io.ReadAll(io.LimitReader(tr, 32<<20))
		}
	}
}
