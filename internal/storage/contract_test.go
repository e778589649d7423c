package storage_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/launchkit/launchkit/internal/storage"
	"github.com/launchkit/launchkit/internal/testenv"
)

// backend is a Store under test, with a way to leave litter beside its
// objects that List must not report.
type backend struct {
	name  string
	store storage.Store
	// litter puts things in the store's place that are not objects of
	// this app (Local's temporary files, S3 objects outside the prefix).
	litter func(t *testing.T)
}

// backends opens a fresh Local store in a temporary directory and a
// fresh S3 store on a loopback fake S3 (which sets the AWS environment:
// the tests that use it are not parallel).
func backends(t *testing.T) []backend {
	t.Helper()
	dir := t.TempDir()
	local, err := storage.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = local.Close() })
	fake := testenv.StartS3(t)
	fake.Setenv(t)
	s3, err := storage.NewS3(t.Context(), storage.S3Options{Bucket: fake.Bucket, Endpoint: fake.Endpoint, Prefix: "app/"})
	if err != nil {
		t.Fatal(err)
	}
	bare, err := storage.NewS3(t.Context(), storage.S3Options{Bucket: fake.Bucket, Endpoint: fake.Endpoint})
	if err != nil {
		t.Fatal(err)
	}
	return []backend{
		{name: "local", store: local, litter: func(t *testing.T) {
			for _, p := range []string{".tmp/half-written", ".hidden", "Upper.PNG", "docs/.swp"} {
				p = filepath.Join(dir, p)
				if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte("litter"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{name: "s3", store: s3, litter: func(t *testing.T) {
			// Another app's objects in the same bucket, one under a
			// prefix that starts like this one's.
			for _, k := range []string{"other/a.png", "app2/docs/b.png", "apps/c.png"} {
				put(t, bare, k, []byte("another app's"))
			}
		}},
	}
}

// openS3 opens the fake's bucket under prefix.
func openS3(t *testing.T, fake *testenv.S3, prefix string) *storage.S3 {
	t.Helper()
	s, err := storage.NewS3(t.Context(), storage.S3Options{Bucket: fake.Bucket, Endpoint: fake.Endpoint, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func put(t *testing.T, s storage.Store, key string, data []byte) {
	t.Helper()
	if err := s.Put(t.Context(), key, bytes.NewReader(data), int64(len(data)), storage.TypeOfKey(key)); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func read(t *testing.T, s storage.Store, key string) ([]byte, storage.Object) {
	t.Helper()
	body, obj, err := s.Open(t.Context(), key)
	if err != nil {
		t.Fatalf("open %s: %v", key, err)
	}
	defer body.Close()
	data, err := io.ReadAll(body)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return data, obj
}

func list(t *testing.T, s storage.Store) map[string]storage.Object {
	t.Helper()
	got := map[string]storage.Object{}
	if err := s.List(t.Context(), func(o storage.Object) error {
		if _, dup := got[o.Key]; dup {
			t.Errorf("List reported %s twice", o.Key)
		}
		got[o.Key] = o
		return nil
	}); err != nil {
		t.Fatalf("list: %v", err)
	}
	return got
}

// pngBytes is the start of a PNG file: enough for Sniff.
var pngBytes = append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), bytes.Repeat([]byte{7}, 300)...)

// TestStoreContract runs every Store through the same expectations: what
// callers (web, jobs, Sweep) may rely on whichever backend is configured.
func TestStoreContract(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			s := b.store
			ctx := t.Context()

			t.Run("round trip", func(t *testing.T) {
				before := time.Now().Add(-time.Minute)
				put(t, s, "avatars/abc.png", pngBytes)
				data, obj := read(t, s, "avatars/abc.png")
				if !bytes.Equal(data, pngBytes) {
					t.Errorf("read %d bytes, not the %d put", len(data), len(pngBytes))
				}
				if obj.Key != "avatars/abc.png" || obj.Size != int64(len(pngBytes)) || obj.ContentType != "image/png" {
					t.Errorf("object = %+v", obj)
				}
				if obj.Modified.Before(before) || obj.Modified.After(time.Now().Add(time.Minute)) {
					t.Errorf("modified = %v, want about now", obj.Modified)
				}
				if s.Backend() != b.name {
					t.Errorf("Backend() = %q", s.Backend())
				}
			})

			t.Run("replace", func(t *testing.T) {
				put(t, s, "docs/r.txt", []byte("first version, longer"))
				put(t, s, "docs/r.txt", []byte("second"))
				if data, obj := read(t, s, "docs/r.txt"); string(data) != "second" || obj.Size != 6 || obj.ContentType != "text/plain" {
					t.Errorf("after replace: %q, %+v", data, obj)
				}
			})

			t.Run("open missing", func(t *testing.T) {
				if _, _, err := s.Open(ctx, "docs/missing.pdf"); !errors.Is(err, storage.ErrNotFound) {
					t.Errorf("err = %v, want ErrNotFound", err)
				}
			})

			t.Run("delete twice", func(t *testing.T) {
				put(t, s, "docs/d.bin", []byte{1, 2, 3})
				for i := range 2 {
					if err := s.Delete(ctx, "docs/d.bin"); err != nil {
						t.Errorf("delete %d: %v", i+1, err)
					}
				}
				if _, _, err := s.Open(ctx, "docs/d.bin"); !errors.Is(err, storage.ErrNotFound) {
					t.Errorf("open after delete: %v, want ErrNotFound", err)
				}
				if err := s.Delete(ctx, "never/put.bin"); err != nil {
					t.Errorf("delete of a key never put: %v", err)
				}
			})

			t.Run("list", func(t *testing.T) {
				b.litter(t)
				want := []string{"list/one.png", "list/two.pdf", "list/deep/three.bin"}
				for _, k := range want {
					put(t, s, k, []byte(k))
				}
				got := list(t, s)
				for _, k := range want {
					o, ok := got[k]
					if !ok {
						t.Errorf("List did not report %s (got %v)", k, keys(got))
						continue
					}
					if o.Size != int64(len(k)) || o.ContentType != storage.TypeOfKey(k) || o.Modified.IsZero() {
						t.Errorf("List: %+v", o)
					}
				}
				for k := range got {
					if !storage.ValidKey(k) {
						t.Errorf("List reported %q, not a key", k)
					}
					if strings.Contains(k, "tmp") || strings.Contains(k, "another") || strings.HasPrefix(k, "other/") ||
						strings.HasPrefix(k, "2/") || strings.HasPrefix(k, "s/") {
						t.Errorf("List reported litter %q", k)
					}
				}
				stop := errors.New("stop")
				calls := 0
				if err := s.List(ctx, func(storage.Object) error { calls++; return stop }); !errors.Is(err, stop) || calls != 1 {
					t.Errorf("List with fn failing: err %v after %d calls, want stop after 1", err, calls)
				}
			})

			t.Run("invalid keys", func(t *testing.T) {
				before := keys(list(t, s))
				for _, k := range []string{
					"", "../x", "/etc/passwd", "a/../../b", "docs/../../b", "A.PNG", ".hidden", "docs/.hidden",
					"a//b", "a/", "a\x00b", "a%2Fb", "a\\b", "docs/x y.png", "..", strings.Repeat("a", storage.MaxKeyLength+1),
				} {
					if err := s.Put(ctx, k, bytes.NewReader([]byte("x")), 1, "text/plain"); err == nil {
						t.Errorf("Put(%q) = nil, want an error", k)
					}
					if _, _, err := s.Open(ctx, k); !errors.Is(err, storage.ErrNotFound) {
						t.Errorf("Open(%q) = %v, want ErrNotFound", k, err)
					}
					if err := s.Delete(ctx, k); err == nil {
						t.Errorf("Delete(%q) = nil, want an error", k)
					}
					if u, err := s.URL(ctx, k, storage.Download{}); err == nil && u != "" {
						t.Errorf("URL(%q) = %q", k, u)
					}
				}
				if after := keys(list(t, s)); !slices.Equal(before, after) {
					t.Errorf("objects before %v, after %v", before, after)
				}
			})

			t.Run("concurrent puts of one key", func(t *testing.T) {
				const n = 8
				var wg sync.WaitGroup
				errs := make([]error, n)
				for i := range n {
					wg.Go(func() {
						data := bytes.Repeat([]byte{byte('a' + i)}, 64<<10+i*1000)
						errs[i] = s.Put(ctx, "race/one.bin", bytes.NewReader(data), int64(len(data)), "application/octet-stream")
					})
				}
				wg.Wait()
				for i, err := range errs {
					if err != nil {
						t.Errorf("put %d: %v", i, err)
					}
				}
				data, obj := read(t, s, "race/one.bin")
				if len(data) == 0 {
					t.Fatal("empty object")
				}
				i := int(data[0] - 'a')
				if want := bytes.Repeat(data[:1], 64<<10+i*1000); !bytes.Equal(data, want) || obj.Size != int64(len(want)) {
					t.Errorf("object is not one whole put: %d bytes starting %q, size %d", len(data), data[:1], obj.Size)
				}
			})

			t.Run("body not the size announced", func(t *testing.T) {
				for _, tc := range []struct {
					body string
					size int64
				}{{"short", 100}, {"longer than said", 4}} {
					if err := s.Put(ctx, "short/x.txt", strings.NewReader(tc.body), tc.size, "text/plain"); err == nil {
						t.Errorf("Put of %d bytes announced as %d = nil, want an error", len(tc.body), tc.size)
					}
					if _, _, err := s.Open(ctx, "short/x.txt"); !errors.Is(err, storage.ErrNotFound) {
						t.Errorf("after the refused put, open = %v, want ErrNotFound", err)
					}
				}
				if _, ok := list(t, s)["short/x.txt"]; ok {
					t.Error("List reports the refused put")
				}
			})

			t.Run("put from where the body stands", func(t *testing.T) {
				r := strings.NewReader("skip:kept")
				if _, err := r.Seek(5, io.SeekStart); err != nil {
					t.Fatal(err)
				}
				if err := s.Put(ctx, "seek/x.txt", r, 4, "text/plain"); err != nil {
					t.Fatal(err)
				}
				if data, _ := read(t, s, "seek/x.txt"); string(data) != "kept" {
					t.Errorf("stored %q, want kept", data)
				}
			})

			t.Run("url", func(t *testing.T) {
				put(t, s, "docs/report.pdf", []byte("%PDF-1.4 not much of a report"))
				d := storage.Download{Filename: `Rapport "final" été.pdf`}
				u, err := s.URL(ctx, "docs/report.pdf", d)
				if err != nil {
					t.Fatal(err)
				}
				if b.name == "local" {
					if u != "" {
						t.Errorf("Local URL = %q, want \"\" (the app serves it)", u)
					}
					return
				}
				resp := get(t, u)
				if body, _ := io.ReadAll(resp.Body); resp.StatusCode != http.StatusOK || string(body) != "%PDF-1.4 not much of a report" {
					t.Fatalf("GET presigned URL: %d %q", resp.StatusCode, body)
				}
				if got, want := resp.Header.Get("Content-Disposition"), storage.Disposition("docs/report.pdf", "application/pdf", d); got != want || !strings.HasPrefix(got, "attachment") {
					t.Errorf("Content-Disposition = %q, want %q", got, want)
				}
				if got := resp.Header.Get("Content-Type"); got != "application/pdf" {
					t.Errorf("Content-Type = %q", got)
				}
				for _, p := range []string{"X-Amz-Signature=", "X-Amz-Expires=300"} {
					if !strings.Contains(u, p) {
						t.Errorf("URL %s has no %s", u, p)
					}
				}

				put(t, s, "avatars/face.png", pngBytes)
				u, err = s.URL(ctx, "avatars/face.png", storage.Download{Inline: true})
				if err != nil {
					t.Fatal(err)
				}
				resp = get(t, u)
				if cd := resp.Header.Get("Content-Disposition"); resp.StatusCode != http.StatusOK || cd != `inline; filename=face.png` || resp.Header.Get("Content-Type") != "image/png" {
					t.Errorf("inline picture: %d, %q, %q", resp.StatusCode, cd, resp.Header.Get("Content-Type"))
				}
			})
		})
	}
}

// TestS3Prefix: with S3_PREFIX, objects land under it (with a slash
// added when it has none), List strips it, and nothing outside it is
// reported or touched.
func TestS3Prefix(t *testing.T) {
	fake := testenv.StartS3(t)
	fake.Setenv(t)
	open := func(prefix string) *storage.S3 { return openS3(t, fake, prefix) }
	bare, app := open(""), open("tenants/app")
	put(t, app, "avatars/x.png", pngBytes)
	put(t, bare, "tenants/app2/avatars/y.png", []byte("another app's"))
	put(t, bare, "avatars/z.png", []byte("the bucket's own"))

	if got := keys(list(t, bare)); !slices.Equal(got, []string{"avatars/z.png", "tenants/app/avatars/x.png", "tenants/app2/avatars/y.png"}) {
		t.Errorf("bucket holds %v", got)
	}
	if got := keys(list(t, app)); !slices.Equal(got, []string{"avatars/x.png"}) {
		t.Errorf("prefixed List = %v, want [avatars/x.png]", got)
	}
	if data, _ := read(t, bare, "tenants/app/avatars/x.png"); !bytes.Equal(data, pngBytes) {
		t.Error("the object is not under the prefix")
	}
	if data, _ := read(t, app, "avatars/x.png"); !bytes.Equal(data, pngBytes) {
		t.Error("the prefixed store does not read its object back")
	}
	if _, _, err := app.Open(t.Context(), "avatars/z.png"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the prefixed store opens an object outside its prefix: %v", err)
	}
	if err := app.Delete(t.Context(), "avatars/z.png"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := bare.Open(t.Context(), "avatars/z.png"); err != nil {
		t.Errorf("a delete through the prefix removed an object outside it: %v", err)
	}
	u, err := app.URL(t.Context(), "avatars/x.png", storage.Download{})
	if err != nil || !strings.Contains(u, "/"+fake.Bucket+"/tenants/app/avatars/x.png?") {
		t.Errorf("URL = %q, %v: want the prefixed key, path-style", u, err)
	}
}

// TestS3Check asks the bucket it was given, and one that is not there.
func TestS3Check(t *testing.T) {
	fake := testenv.StartS3(t)
	fake.Setenv(t)
	s, err := storage.NewS3(t.Context(), storage.S3Options{Bucket: fake.Bucket, Endpoint: fake.Endpoint})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(t.Context()); err != nil {
		t.Errorf("Check: %v", err)
	}
	missing, err := storage.NewS3(t.Context(), storage.S3Options{Bucket: "no-such-bucket", Endpoint: fake.Endpoint})
	if err != nil {
		t.Fatal(err)
	}
	err = missing.Check(t.Context())
	if err == nil || !strings.Contains(err.Error(), "no-such-bucket") {
		t.Errorf("Check of a missing bucket = %v", err)
	}
	if strings.Contains(err.Error(), "test-secret-access-key") {
		t.Errorf("the error shows the secret key: %v", err)
	}
}

// TestNewS3 needs no network (the endpoint here is closed) and refuses
// what it cannot use, without echoing a password.
func TestNewS3(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-secret-access-key")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	ctx := context.Background()

	if _, err := storage.NewS3(ctx, storage.S3Options{Bucket: "b", Endpoint: "http://127.0.0.1:1"}); err != nil {
		t.Errorf("an endpoint nothing listens on: %v (NewS3 must not reach the network)", err)
	}
	if _, err := storage.NewS3(ctx, storage.S3Options{Bucket: "b", Region: "eu-west-3"}); err != nil {
		t.Errorf("Amazon S3 with a region: %v", err)
	}
	for _, tc := range []struct {
		o    storage.S3Options
		want string
	}{
		{storage.S3Options{}, "no bucket"},
		{storage.S3Options{Bucket: "b"}, "no region"},
		{storage.S3Options{Bucket: "b", Endpoint: "https://key:hunter2@minio.example.com"}, "not a URL"},
		{storage.S3Options{Bucket: "b", Endpoint: "minio.example.com:9000"}, "not a URL"},
		{storage.S3Options{Bucket: "b", Endpoint: "https://minio.example.com/?token=hunter2"}, "not a URL"},
	} {
		_, err := storage.NewS3(ctx, tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewS3(%+v) = %v, want %q", tc.o, err, tc.want)
		} else if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the error shows the password: %v", err)
		}
	}
}

func get(t *testing.T, u string) *http.Response {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func keys(m map[string]storage.Object) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// TestS3Region: S3Options.Region, else the SDK's chain (AWS_REGION), else
// us-east-1 for an S3-compatible endpoint; presigned URLs are signed for
// it.
func TestS3Region(t *testing.T) {
	fake := testenv.StartS3(t)
	fake.Setenv(t)
	t.Setenv("AWS_DEFAULT_REGION", "")
	region := func(o storage.S3Options) string {
		t.Helper()
		s, err := storage.NewS3(t.Context(), o)
		if err != nil {
			t.Fatal(err)
		}
		u, err := s.URL(t.Context(), "docs/x.pdf", storage.Download{})
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		// AKID/date/region/s3/aws4_request
		parts := strings.Split(parsed.Query().Get("X-Amz-Credential"), "/")
		if len(parts) != 5 || parts[3] != "s3" {
			t.Fatalf("X-Amz-Credential = %v", parts)
		}
		return parts[2]
	}
	t.Setenv("AWS_REGION", "")
	if got := region(storage.S3Options{Bucket: fake.Bucket, Endpoint: fake.Endpoint}); got != "us-east-1" {
		t.Errorf("endpoint, no region: %s, want us-east-1", got)
	}
	if got := region(storage.S3Options{Bucket: fake.Bucket, Endpoint: fake.Endpoint, Region: "eu-west-3"}); got != "eu-west-3" {
		t.Errorf("S3_REGION: %s, want eu-west-3", got)
	}
	t.Setenv("AWS_REGION", "ap-south-1")
	if got := region(storage.S3Options{Bucket: fake.Bucket, Endpoint: fake.Endpoint}); got != "ap-south-1" {
		t.Errorf("AWS_REGION: %s, want ap-south-1", got)
	}
	if got := region(storage.S3Options{Bucket: fake.Bucket, Endpoint: fake.Endpoint, Region: "eu-west-3"}); got != "eu-west-3" {
		t.Errorf("S3_REGION over AWS_REGION: %s, want eu-west-3", got)
	}
	s, err := storage.NewS3(t.Context(), storage.S3Options{Bucket: "launchkit-uploads"})
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.URL(t.Context(), "docs/x.pdf", storage.Download{})
	if err != nil || !strings.HasPrefix(u, "https://launchkit-uploads.s3.ap-south-1.amazonaws.com/docs/x.pdf?") {
		t.Errorf("Amazon S3 URL = %s, %v; want the bucket's virtual host in the chain's region", u, err)
	}
}
