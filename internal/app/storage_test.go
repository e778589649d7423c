package app_test

import (
	"strings"
	"testing"

	"github.com/launchkit/launchkit/internal/storage"
	"github.com/launchkit/launchkit/internal/testenv"
)

// TestTheAppStoresFilesWhereConfigured: STORAGE_BACKEND=s3 gives the app,
// and the Files its tasks use, the bucket that testenv.S3's environment
// names (as a web or worker binary started with it would); the default
// is a local directory.
func TestTheAppStoresFilesWhereConfigured(t *testing.T) {
	fake := testenv.StartS3(t)
	fake.Setenv(t)
	env := map[string]string{}
	for _, kv := range fake.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	a, _ := testenv.NewApp(t, env)
	if a.Storage.Backend() != "s3" || a.Files.Store != a.Storage {
		t.Fatalf("storage %s, files on %v", a.Storage.Backend(), a.Files.Store)
	}
	if err := a.Storage.Put(t.Context(), "docs/x.txt", strings.NewReader("hello"), 5, "text/plain"); err != nil {
		t.Fatal(err)
	}
	if err := a.Storage.(*storage.S3).Check(t.Context()); err != nil {
		t.Errorf("Check: %v", err)
	}

	local, _ := testenv.NewApp(t, map[string]string{"STORAGE_DIR": t.TempDir()})
	if local.Storage.Backend() != "local" {
		t.Errorf("the default backend is %s", local.Storage.Backend())
	}
}
