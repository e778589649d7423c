package storage_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/launchkit/launchkit/internal/config"
	"github.com/launchkit/launchkit/internal/storage"
	"github.com/launchkit/launchkit/internal/testenv"
)

// TestOpen opens the store STORAGE_BACKEND names, and gives no store at
// all (not a nil *S3 in a Store) when it cannot.
func TestOpen(t *testing.T) {
	fake := testenv.StartS3(t)
	fake.Setenv(t)
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	dir := filepath.Join(t.TempDir(), "uploads")

	local, err := storage.Open(t.Context(), &config.Config{StorageBackend: "local", StorageDir: dir})
	if err != nil || local.Backend() != "local" || local.(*storage.Local).Dir() != dir {
		t.Fatalf("local: %v, %v", local, err)
	}
	_ = local.(*storage.Local).Close()

	s3, err := storage.Open(t.Context(), &config.Config{StorageBackend: "s3", S3Bucket: fake.Bucket, S3Endpoint: fake.Endpoint, S3Prefix: "p"})
	if err != nil || s3.Backend() != "s3" {
		t.Fatalf("s3: %v, %v", s3, err)
	}
	put(t, s3, "docs/x.txt", []byte("through Open"))
	if data, _ := read(t, s3, "docs/x.txt"); string(data) != "through Open" {
		t.Errorf("read %q", data)
	}

	for _, cfg := range []*config.Config{
		{StorageBackend: "s3", S3Bucket: fake.Bucket}, // Amazon S3 without a region
		{StorageBackend: "s3"},
		{StorageBackend: "ftp"},
	} {
		s, err := storage.Open(t.Context(), cfg)
		if err == nil || s != nil {
			t.Errorf("%s: store %#v, err %v; want no store and an error", cfg.StorageBackend, s, err)
		}
		if err != nil && strings.Contains(err.Error(), "test-secret-access-key") {
			t.Errorf("the error shows the secret key: %v", err)
		}
	}
}
