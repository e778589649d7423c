package app_test

import (
	"context"
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

func TestProcessesWithoutEmbeddedRedisNeedRedisURL(t *testing.T) {
	cfg := load(t, map[string]string{"ENV": "test", "DATABASE_URL": "sqlite://" + filepath.Join(t.TempDir(), "app.db")})
	_, err := app.New(context.Background(), cfg, app.NewLogger(cfg, &testenv.Buffer{}), app.Options{})
	if err != app.ErrNoRedis {
		t.Fatalf("err = %v, want ErrNoRedis", err)
	}
}
