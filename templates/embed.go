// Package templates embeds the html/template files: layouts/ (the site
// layout every page extends), pages/ (one file per page) and errors/ (the
// one page used for every error status). In development the files are read
// from disk on each render when ./templates exists, so edits show on reload.
package templates

import "embed"

// FS holds layouts/, pages/ and errors/.
//
//go:embed layouts pages errors
var FS embed.FS
