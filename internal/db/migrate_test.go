package db_test

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/launchkit/launchkit/internal/db"
	"github.com/launchkit/launchkit/internal/testenv"
	"github.com/launchkit/launchkit/migrations"
)

func TestMigrateUpDownReset(t *testing.T) {
	for _, dialect := range testenv.Dialects {
		t.Run(dialect.Name, func(t *testing.T) {
			ctx := t.Context()
			d := open(t, dialect.URL(t))
			m, err := db.NewMigrator(d, quietLogger())
			if err != nil {
				t.Fatalf("NewMigrator: %v", err)
			}
			hasSessions := func() bool { return d.Gorm.WithContext(ctx).Migrator().HasTable("sessions") }
			// applied reports each migration's state, in order.
			applied := func() []bool {
				t.Helper()
				st, err := m.Status(ctx)
				if err != nil {
					t.Fatalf("Status: %v", err)
				}
				out := make([]bool, len(st))
				for i, s := range st {
					out[i] = s.Applied
				}
				return out
			}

			st, err := m.Status(ctx)
			if err != nil {
				t.Fatalf("Status on an empty database: %v", err)
			}
			if len(st) == 0 {
				t.Fatal("Status lists no migrations")
			}
			if st[0].Version != 1 || st[0].Name != "00001_sessions.sql" || st[0].Applied {
				t.Errorf("first migration = %+v, want version 1, 00001_sessions.sql, pending", st[0])
			}
			total := len(st)
			if hasSessions() {
				t.Fatal("sessions table exists before any migration")
			}

			n, err := m.Up(ctx)
			if err != nil {
				t.Fatalf("Up: %v", err)
			}
			if n != total {
				t.Errorf("Up applied %d migrations, want %d", n, total)
			}
			if got := applied(); slices.Contains(got, false) {
				t.Errorf("after Up, applied = %v, want all true", got)
			}
			if !hasSessions() {
				t.Error("no sessions table after Up")
			}

			if n, err := m.Up(ctx); err != nil || n != 0 {
				t.Errorf("second Up = %d, %v; want 0, nil", n, err)
			}

			if err := m.Down(ctx); err != nil {
				t.Fatalf("Down: %v", err)
			}
			got := applied()
			if got[total-1] || slices.Contains(got[:total-1], false) {
				t.Errorf("after Down, applied = %v, want only the last pending", got)
			}
			if total == 1 && hasSessions() {
				t.Error("sessions table still exists after rolling back its migration")
			}

			if n, err := m.Up(ctx); err != nil || n != 1 {
				t.Errorf("Up after Down = %d, %v; want 1, nil", n, err)
			}
			if !hasSessions() {
				t.Error("no sessions table after re-applying")
			}

			if err := m.Reset(ctx); err != nil {
				t.Fatalf("Reset: %v", err)
			}
			if got := applied(); slices.Contains(got, true) {
				t.Errorf("after Reset, applied = %v, want all false", got)
			}
			if hasSessions() {
				t.Error("sessions table still exists after Reset")
			}
		})
	}
}

// Every dialect must have the same numbered migrations, so that a schema
// change made for one database is never silently missing from another.
func TestMigrationsMatchAcrossDialects(t *testing.T) {
	names := map[db.Dialect][]string{}
	for _, d := range []db.Dialect{db.SQLite, db.Postgres, db.MySQL} {
		entries, err := fs.ReadDir(migrations.FS, string(d))
		if err != nil {
			t.Fatalf("read %s migrations: %v", d, err)
		}
		for _, e := range entries {
			names[d] = append(names[d], e.Name())
		}
		if len(names[d]) == 0 {
			t.Errorf("no %s migrations", d)
		}
	}
	for _, d := range []db.Dialect{db.Postgres, db.MySQL} {
		if !slices.Equal(names[d], names[db.SQLite]) {
			t.Errorf("%s migrations %v differ from sqlite's %v", d, names[d], names[db.SQLite])
		}
	}
	for _, name := range names[db.SQLite] {
		if !migrationFile.MatchString(name) {
			t.Errorf("migration %s is not named NNNNN_name.sql like `manage migrate create` writes", name)
		}
	}
}

var migrationFile = regexp.MustCompile(`^[0-9]{5}_[a-z0-9_]+\.sql$`)

// migrationsDir makes a migrations/ tree with one migration, 00001_x.sql,
// in each dialect's directory.
func migrationsDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"sqlite", "postgres", "mysql"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, d, "00001_x.sql"), []byte("-- +goose Up\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestCreateMigrationWritesNextNumberInEveryDialect(t *testing.T) {
	dir := migrationsDir(t)
	written, err := db.CreateMigration(dir, "add_widgets")
	if err != nil {
		t.Fatalf("CreateMigration: %v", err)
	}
	var want []string
	for _, d := range []string{"sqlite", "postgres", "mysql"} {
		want = append(want, filepath.Join(dir, d, "00002_add_widgets.sql"))
	}
	if !slices.Equal(written, want) {
		t.Fatalf("wrote %v, want %v", written, want)
	}
	for _, path := range written {
		body, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(body), "-- +goose Up") || !strings.Contains(string(body), "-- +goose Down") {
			t.Errorf("%s lacks the goose Up/Down markers:\n%s", path, body)
		}
	}

	// The next one numbers after the highest in any dialect.
	if err := os.WriteFile(filepath.Join(dir, "mysql", "00007_late.sql"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	written, err = db.CreateMigration(dir, "more")
	if err != nil {
		t.Fatalf("second CreateMigration: %v", err)
	}
	if len(written) != 3 || filepath.Base(written[0]) != "00008_more.sql" {
		t.Errorf("second CreateMigration wrote %v, want 00008_more.sql in each dialect", written)
	}
}

// TestAnEmptyMigrationIsNotApplied: a migration as manage migrate create
// writes it, before anything is written into it, stops migrate up (with
// make dev the app starts as soon as the file appears) instead of being
// recorded as applied, which would keep the statements written into it
// later from ever running. Once written, it applies.
func TestAnEmptyMigrationIsNotApplied(t *testing.T) {
	dir := migrationsDir(t)
	for _, d := range []string{"sqlite", "postgres", "mysql"} {
		body := "-- +goose Up\nCREATE TABLE gadgets (id INTEGER PRIMARY KEY);\n-- +goose Down\nDROP TABLE gadgets;\n"
		if err := os.WriteFile(filepath.Join(dir, d, "00001_x.sql"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	written, err := db.CreateMigration(dir, "add_widgets")
	if err != nil {
		t.Fatal(err)
	}
	d := open(t, "sqlite://"+filepath.Join(t.TempDir(), "app.db"))
	m, err := db.NewMigratorOf(d, os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	n, err := m.Up(t.Context())
	if !errors.Is(err, db.ErrEmptyMigration) || !strings.Contains(err.Error(), "00002_add_widgets.sql") || n != 0 {
		t.Fatalf("Up with an empty migration pending = %d, %v; want ErrEmptyMigration naming the file", n, err)
	}
	if st, _ := m.Status(t.Context()); st[0].Applied || st[1].Applied {
		t.Errorf("after the refusal: %+v, want nothing applied", st)
	}
	body, _ := os.ReadFile(written[0])
	body = []byte(strings.Replace(string(body), "-- +goose Up\n", "-- +goose Up\n-- the widgets\nCREATE TABLE widgets (id INTEGER PRIMARY KEY);\n", 1))
	if err := os.WriteFile(written[0], body, 0o644); err != nil {
		t.Fatal(err)
	}
	if n, err := m.Up(t.Context()); err != nil || n != 2 {
		t.Fatalf("Up once written = %d, %v; want both applied", n, err)
	}
	if !d.Gorm.Migrator().HasTable("widgets") {
		t.Error("the written migration did not run")
	}
}

func TestCreateMigrationRejectsBadInput(t *testing.T) {
	t.Run("bad name", func(t *testing.T) {
		dir := migrationsDir(t)
		for _, name := range []string{"Bad Name!", "", "../escape", "CamelCase"} {
			if written, err := db.CreateMigration(dir, name); err == nil {
				t.Errorf("CreateMigration(%q) wrote %v, want an error", name, written)
			}
		}
		for _, d := range []string{"sqlite", "postgres", "mysql"} {
			entries, _ := os.ReadDir(filepath.Join(dir, d))
			if len(entries) != 1 {
				t.Errorf("%s holds %d files after rejected names, want 1", d, len(entries))
			}
		}
	})
	t.Run("no dialect directories", func(t *testing.T) {
		dir := t.TempDir()
		written, err := db.CreateMigration(dir, "add_widgets")
		if err == nil {
			t.Fatalf("CreateMigration in an empty dir wrote %v, want an error", written)
		}
		if !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "repository root") {
			t.Errorf("error = %q, want it to name the directory and hint at the repository root", err)
		}
	})
}

// TestADeletedDialectIsLeftOut: a clone that deleted the dialects it does
// not use (migrations/mysql, say) gets new migrations in the others only,
// its migrations package still builds, and a database of a deleted
// dialect fails to start with a message saying why.
func TestADeletedDialectIsLeftOut(t *testing.T) {
	dir := migrationsDir(t)
	if err := os.RemoveAll(filepath.Join(dir, "mysql")); err != nil {
		t.Fatal(err)
	}
	written, err := db.CreateMigration(dir, "add_widgets")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "sqlite", "00002_add_widgets.sql"), filepath.Join(dir, "postgres", "00002_add_widgets.sql")}
	if !slices.Equal(written, want) {
		t.Errorf("wrote %v, want %v", written, want)
	}

	// The package's embed pattern names no dialect: it builds without one.
	src, err := os.ReadFile("../../migrations/embed.go")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "embed.go"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/migrations\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "./...")
	build.Dir = dir
	if out, err := build.CombinedOutput(); err != nil {
		t.Errorf("the migrations package without mysql/ does not build: %v\n%s", err, out)
	}

	if _, err := db.NewMigratorFS(db.MySQL, os.DirFS(dir)); err == nil || !strings.Contains(err.Error(), "migrations/mysql was deleted") {
		t.Errorf("a MySQL database without mysql migrations: %v, want an error saying migrations/mysql was deleted", err)
	}
}
