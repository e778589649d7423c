package testenv

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/alexedwards/argon2id"

	"github.com/launchkit/launchkit/internal/app"
	"github.com/launchkit/launchkit/internal/config"
)

// NewApp builds the app container as the web process does, on a fresh
// SQLite database and an embedded Redis, with ENV=test and env on top.
// It returns the app and everything it logs; it is closed at the end.
func NewApp(t testing.TB, env map[string]string) (*app.App, *Buffer) {
	t.Helper()
	dir := t.TempDir()
	vars := map[string]string{
		"ENV":             "test",
		"DATABASE_URL":    "sqlite://" + filepath.Join(dir, "app.db"),
		"MAIL_OUTBOX_DIR": filepath.Join(dir, "outbox"),
		"STORAGE_DIR":     filepath.Join(dir, "uploads"), // not data/uploads in the package's source
		"LOG_LEVEL":       "debug",
	}
	for k, v := range env {
		vars[k] = v
	}
	cfg, err := config.Load(context.Background(), config.Options{Getenv: func(k string) string { return vars[k] }})
	if err != nil {
		t.Fatal(err)
	}
	logs := &Buffer{}
	a, err := app.New(context.Background(), cfg, app.NewLogger(cfg, logs), app.Options{Migrate: true, EmbeddedRedis: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	a.Users.Params = CheapHashing
	return a, logs
}

// CheapHashing are argon2id parameters that keep tests fast: hashes made
// with them verify like any other, at a thousandth of the cost.
var CheapHashing = &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
