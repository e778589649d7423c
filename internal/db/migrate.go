package db

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/launchkit/launchkit/migrations"
)

// Migrator applies the embedded migrations of one database's dialect.
type Migrator struct {
	provider *goose.Provider
	fsys     fs.FS // the dialect's migrations
}

// NewMigrator prepares the migrations for d. logger may be nil.
func NewMigrator(d *DB, logger *slog.Logger) (*Migrator, error) {
	return newMigrator(d, migrations.FS, logger)
}

// newMigrator is NewMigrator with the migrations' file system.
func newMigrator(d *DB, all fs.FS, logger *slog.Logger) (*Migrator, error) {
	if _, err := fs.Stat(all, string(d.Dialect)); err != nil {
		return nil, fmt.Errorf("this build has no %[1]s migrations (migrations/%[1]s was deleted): restore it, or use another DATABASE_URL", d.Dialect)
	}
	fsys, err := fs.Sub(all, string(d.Dialect))
	if err != nil {
		return nil, fmt.Errorf("migrations for %s: %w", d.Dialect, err)
	}
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	if logger != nil {
		opts = append(opts, goose.WithSlog(logger.With("component", "migrate")))
	}
	gooseDialect := map[Dialect]goose.Dialect{
		SQLite:   goose.DialectSQLite3,
		Postgres: goose.DialectPostgres,
		MySQL:    goose.DialectMySQL,
	}[d.Dialect]
	if d.Dialect == Postgres {
		// Several web processes starting at once must not migrate twice.
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300)) // retry each second, up to 5 minutes
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(gooseDialect, d.SQL, fsys, opts...)
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	return &Migrator{provider: p, fsys: fsys}, nil
}

// Up applies every pending migration and returns how many it applied. It
// applies none while one of them has no statements in its Up section:
// goose would record such a migration as applied, so the statements
// written into it later (manage migrate create makes it empty, and make
// dev starts the app as soon as the file appears) would never run.
func (m *Migrator) Up(ctx context.Context) (int, error) {
	if err := m.refuseEmpty(ctx); err != nil {
		return 0, err
	}
	results, err := m.provider.Up(ctx)
	if err != nil {
		return len(results), fmt.Errorf("migrate up: %w", err)
	}
	return len(results), nil
}

// ErrEmptyMigration: a pending migration has no statements in its Up
// section.
var ErrEmptyMigration = errors.New("the migration has no statements in its Up section yet: write them, then migrate (an empty one would be recorded as applied, and what you write later would never run)")

// refuseEmpty fails with ErrEmptyMigration, naming the file, when a
// pending SQL migration's Up section holds nothing but comments.
func (m *Migrator) refuseEmpty(ctx context.Context) error {
	st, err := m.provider.Status(ctx)
	if err != nil {
		return fmt.Errorf("migrate up: %w", err)
	}
	for _, s := range st {
		if s.State == goose.StateApplied || s.Source.Type != goose.TypeSQL {
			continue
		}
		b, err := fs.ReadFile(m.fsys, filepath.Base(s.Source.Path))
		if err != nil {
			return fmt.Errorf("migrate up: %w", err)
		}
		if !hasUpStatements(string(b)) {
			return fmt.Errorf("migrate up: %s: %w", filepath.Base(s.Source.Path), ErrEmptyMigration)
		}
	}
	return nil
}

// hasUpStatements reports whether the goose SQL file src has anything
// but comments and blank lines between "-- +goose Up" and the next
// annotation that ends it ("-- +goose Down", or the end).
func hasUpStatements(src string) bool {
	up := false
	for line := range strings.Lines(src) {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "-- +goose Up"):
			up = true
		case strings.HasPrefix(line, "-- +goose Down"):
			up = false
		case up && line != "" && !strings.HasPrefix(line, "--"):
			return true
		}
	}
	return false
}

// HasPending reports whether some migration is not applied yet.
func (m *Migrator) HasPending(ctx context.Context) (bool, error) {
	pending, err := m.provider.HasPending(ctx)
	if err != nil {
		return false, fmt.Errorf("check migrations: %w", err)
	}
	return pending, nil
}

// Down rolls back the most recent migration.
func (m *Migrator) Down(ctx context.Context) error {
	if _, err := m.provider.Down(ctx); err != nil {
		return fmt.Errorf("migrate down: %w", err)
	}
	return nil
}

// Reset rolls back every migration.
func (m *Migrator) Reset(ctx context.Context) error {
	if _, err := m.provider.DownTo(ctx, 0); err != nil {
		return fmt.Errorf("migrate reset: %w", err)
	}
	return nil
}

// MigrationStatus is one migration and whether it is applied.
type MigrationStatus struct {
	Version int64
	Name    string
	Applied bool
}

// Status lists every migration in order.
func (m *Migrator) Status(ctx context.Context) ([]MigrationStatus, error) {
	st, err := m.provider.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate status: %w", err)
	}
	out := make([]MigrationStatus, len(st))
	for i, s := range st {
		out[i] = MigrationStatus{
			Version: s.Source.Version,
			Name:    filepath.Base(s.Source.Path),
			Applied: s.State == goose.StateApplied,
		}
	}
	return out, nil
}

var migrationName = regexp.MustCompile(`^[a-z0-9_]+$`)

// CreateMigration writes an empty, numbered migration NAME into each
// dialect directory present under dir (the source tree's migrations/;
// the dialects you deleted are left out) and returns the files it wrote.
func CreateMigration(dir, name string) ([]string, error) {
	if !migrationName.MatchString(name) {
		return nil, fmt.Errorf("migration name %q: use lower-case letters, digits and underscores", name)
	}
	var dialects []Dialect
	for _, d := range []Dialect{SQLite, Postgres, MySQL} {
		if fi, err := os.Stat(filepath.Join(dir, string(d))); err == nil && fi.IsDir() {
			dialects = append(dialects, d)
		}
	}
	if len(dialects) == 0 {
		return nil, fmt.Errorf("no sqlite, postgres or mysql directory in %s (run it from the repository root)", dir)
	}
	next := int64(1)
	for _, d := range dialects {
		entries, err := os.ReadDir(filepath.Join(dir, string(d)))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", filepath.Join(dir, string(d)), err)
		}
		for _, e := range entries {
			prefix, _, _ := strings.Cut(e.Name(), "_")
			if v, err := strconv.ParseInt(prefix, 10, 64); err == nil && v >= next {
				next = v + 1
			}
		}
	}
	var written []string
	for _, d := range dialects {
		path := filepath.Join(dir, string(d), fmt.Sprintf("%05d_%s.sql", next, name))
		body := fmt.Sprintf("-- %s (%s)\n\n-- +goose Up\n\n-- +goose Down\n", name, d)
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			return written, err
		}
		written = append(written, path)
	}
	return written, nil
}
