// Package migrations embeds the SQL migrations, one directory per database
// dialect (sqlite, postgres, mysql) with the same numbered files in each,
// so every supported database gets the same schema in its own SQL.
// Create a new one in each directory with `manage migrate create NAME`.
//
// A dialect you will not use can go: delete its directory, and nothing
// else changes (a DATABASE_URL of that kind then fails to start, saying
// so).
package migrations

import "embed"

// FS holds DIALECT/*.sql for each dialect directory present.
//
//go:embed */*.sql
var FS embed.FS
