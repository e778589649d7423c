// Package migrations embeds the SQL migrations, one directory per database
// dialect (sqlite, postgres, mysql) with the same numbered files in each,
// so every supported database gets the same schema in its own SQL.
// Create a new one in all three with `manage migrate create NAME`.
package migrations

import "embed"

// FS holds sqlite/*.sql, postgres/*.sql and mysql/*.sql.
//
//go:embed sqlite/*.sql postgres/*.sql mysql/*.sql
var FS embed.FS
