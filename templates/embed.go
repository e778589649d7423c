// Package templates embeds the html/template files: layouts/ (the site
// layout every page extends), pages/ (one file per page), errors/ (the
// one page used for every error status), and emails/ (text/template files with a
// "subject" and a "text" block, and beside each an html/template file with a
// "body" block, rendered in emails/layout/mail.html). In development the files are read
// from disk on each render when ./templates exists, so edits show on reload.
package templates

import "embed"

// FS holds layouts/, pages/, errors/ and emails/.
//
//go:embed layouts pages errors emails
var FS embed.FS
