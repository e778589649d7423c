//go:build !nodev

package web_test

import (
	"regexp"
	"testing"
)

// TestDevUIShowsEveryComponentAndIcon: in development /dev/ui, the
// living style guide, answers with a section for each component and
// every symbol of the sprite, drawn from the sprite's versioned URL (an
// SVG cached for a year); the /dev index links it. In production it is a
// 404 like every /dev page.
func TestDevUIShowsEveryComponentAndIcon(t *testing.T) {
	t.Parallel()
	s := devSite(t, nil)
	page := s.get("/dev/ui").status(200).contains(
		`id="buttons"`, `id="forms"`, `id="flashes"`, `id="cards"`, `id="tables"`, `id="empty"`,
		`id="badges"`, `id="pagination"`, `id="confirm"`, `id="menus"`, `id="details"`, `id="icons"`,
		`class="button button-primary"`, `class="button button-danger"`, `class="button button-ghost"`, `button-sm`, `class="icon-button"`,
		`aria-describedby="ui-email-hint ui-email-error" aria-invalid="true"`, `class="field-error" id="ui-email-error"`,
		`flash flash-success`, `flash flash-info`, `flash flash-warning`, `flash flash-error`,
		`class="grid"`, `class="card stat"`, `class="card-footer"`, `aria-sort="ascending"`, `class="empty"`,
		`badge-success`, `badge-danger`, `badge-warning`, `badge-accent`, `badge-neutral`,
		`class="pagination"`, `<details class="confirm">`, `class="confirm-panel"`, `<dl class="details">`,
		`data-theme-toggle`,
	).body
	sprite := staticFile(t, "icons.svg")
	names := regexp.MustCompile(`<symbol id="i-([a-z0-9-]+)"`).FindAllStringSubmatch(sprite, -1)
	if len(names) < 29 {
		t.Fatalf("the sprite has %d symbols", len(names))
	}
	m := regexp.MustCompile(`"(/static/icons\.svg\?v=[0-9a-f]{16})#`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("the page draws no icon from the versioned sprite")
	}
	url := m[1]
	for _, n := range names {
		s.get("/dev/ui").contains(url+`#i-`+n[1]+`"`, `<span class="mono">`+n[1]+`</span>`)
	}
	s.get(url).status(200).header("Content-Type", "image/svg+xml").cacheControl("public, max-age=31536000, immutable")
	s.get("/dev").status(200).contains(`<a href="/dev/ui">UI</a>`)
	prodSite(t).get("/dev/ui").status(404)
}
