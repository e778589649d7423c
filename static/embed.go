// Package static embeds the site's CSS, JavaScript and images, served
// under /static/. Third-party files are vendored here (no CDN); each keeps
// its licence beside it.
package static

import "embed"

// FS holds every file of this directory but the Go sources.
//
//go:embed css js favicon.svg icons.svg
var FS embed.FS
