package app_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/launchkit/launchkit/internal/app"
	"github.com/launchkit/launchkit/internal/config"
	"github.com/launchkit/launchkit/internal/testenv"
)

func load(t *testing.T, env map[string]string) *config.Config {
	t.Helper()
	cfg, err := config.Load(context.Background(), config.Options{Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestMigrationsFollowAutoMigrate(t *testing.T) {
	dbURL := "sqlite://" + filepath.Join(t.TempDir(), "app.db")
	start := func(autoMigrate string) (*app.App, string) {
		logs := &testenv.Buffer{}
		cfg := load(t, map[string]string{"ENV": "test", "DATABASE_URL": dbURL, "AUTO_MIGRATE": autoMigrate})
		a, err := app.New(context.Background(), cfg, app.NewLogger(cfg, logs), app.Options{Migrate: true, EmbeddedRedis: true})
		if err != nil {
			t.Fatal(err)
		}
		return a, logs.String()
	}

	a, logs := start("false")
	if a.DB.Gorm.Migrator().HasTable("sessions") {
		t.Error("AUTO_MIGRATE=false migrated anyway")
	}
	if !strings.Contains(logs, "pending migrations") {
		t.Errorf("no warning about pending migrations:\n%s", logs)
	}
	a.Close()

	a, logs = start("true")
	defer a.Close()
	if !a.DB.Gorm.Migrator().HasTable("sessions") || !strings.Contains(logs, "database migrated") {
		t.Errorf("AUTO_MIGRATE=true did not migrate:\n%s", logs)
	}
}

// TestProcessesWithoutEmbeddedRedisNeedRedisURL: a process that may not
// start the embedded Redis (the worker) and has no REDIS_URL stops with
// ErrNoRedis before it opens, creates or migrates the database.
func TestProcessesWithoutEmbeddedRedisNeedRedisURL(t *testing.T) {
	dbFile := filepath.Join(t.TempDir(), "app.db")
	cfg := load(t, map[string]string{"ENV": "test", "DATABASE_URL": "sqlite://" + dbFile})
	_, err := app.New(context.Background(), cfg, app.NewLogger(cfg, &testenv.Buffer{}), app.Options{Migrate: true})
	if err != app.ErrNoRedis {
		t.Fatalf("err = %v, want ErrNoRedis", err)
	}
	if _, err := os.Stat(dbFile); !os.IsNotExist(err) {
		t.Errorf("the database file was made before Redis was found missing (stat: %v)", err)
	}
}

// TestSettingsThatDoNothingSaySo: EMAIL_ERRORS without ADMINS, and a
// CACHE_URL with the cache in memory, are said at start rather than
// silently doing nothing; with ADMINS the alerts are on.
func TestSettingsThatDoNothingSaySo(t *testing.T) {
	a, logs := testenv.NewApp(t, map[string]string{"EMAIL_ERRORS": "true", "CACHE_TYPE": "memory", "CACHE_URL": "redis://127.0.0.1:1/0"})
	for _, want := range []string{"ADMINS is empty", "CACHE_URL is set but the cache is in this process's memory"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the start-up log does not say %q:\n%s", want, logs.String())
		}
	}
	if a.Alerts != nil {
		t.Error("alerts are on with no ADMINS")
	}
	_, logs = testenv.NewApp(t, map[string]string{"LDAP_HOST": "ldap.example.org"})
	if !strings.Contains(logs.String(), "USER_LDAP is off") {
		t.Errorf("LDAP_HOST without USER_LDAP is not mentioned:\n%s", logs.String())
	}
	on, _ := testenv.NewApp(t, map[string]string{"EMAIL_ERRORS": "true", "ADMINS": "ops@example.com"})
	if on.Alerts == nil {
		t.Error("alerts are off with EMAIL_ERRORS and ADMINS set")
	}
}
