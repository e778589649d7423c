package db

import "io/fs"

// NewMigratorFS is NewMigrator on fsys for a database of dialect d, not
// opened: for the checks made before any statement.
func NewMigratorFS(d Dialect, fsys fs.FS) (*Migrator, error) {
	return newMigrator(&DB{Dialect: d}, fsys, nil)
}

// NewMigratorOf is NewMigrator on the migrations in fsys (a directory per
// dialect, as migrations/ is).
func NewMigratorOf(d *DB, fsys fs.FS) (*Migrator, error) {
	return newMigrator(d, fsys, nil)
}
