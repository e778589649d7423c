package static

import (
	"fmt"
	"io/fs"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Palette is one theme's colour tokens from css/app.css, by name without
// the leading dashes: "accent" → "#4f46e5". Only hex colours are read.
type Palette map[string]string

// The token blocks of app.css: the light values on :root, the dark ones
// under :root[data-theme=dark] (the prefers-color-scheme block repeats
// them for :root:not([data-theme=light])).
var (
	lightBlock = regexp.MustCompile(`(?m)^:root \{([^}]*)\}`)
	darkBlock  = regexp.MustCompile(`(?m)^:root\[data-theme=dark\] \{([^}]*)\}`)
	mediaDark  = regexp.MustCompile(`:root:not\(\[data-theme=light\]\) \{([^}]*)\}`)
	colorToken = regexp.MustCompile(`--([a-z0-9-]+):\s*(#[0-9a-fA-F]{3,8})\s*;`)
)

// Themes reads the light and dark palettes out of the embedded
// stylesheet. It fails when a block is missing or when the dark values of
// the prefers-color-scheme block and of [data-theme=dark] differ (they
// must be the same theme, chosen two ways).
func Themes() (light, dark Palette, err error) {
	css, err := fs.ReadFile(FS, "css/app.css")
	if err != nil {
		return nil, nil, err
	}
	return ParseThemes(string(css))
}

// ParseThemes is Themes on the text of a stylesheet.
func ParseThemes(css string) (light, dark Palette, err error) {
	block := func(re *regexp.Regexp, name string) (Palette, error) {
		m := re.FindStringSubmatch(css)
		if m == nil {
			return nil, fmt.Errorf("app.css has no %s token block", name)
		}
		p := Palette{}
		for _, t := range colorToken.FindAllStringSubmatch(m[1], -1) {
			p[t[1]] = strings.ToLower(t[2])
		}
		return p, nil
	}
	if light, err = block(lightBlock, ":root"); err != nil {
		return nil, nil, err
	}
	if dark, err = block(darkBlock, ":root[data-theme=dark]"); err != nil {
		return nil, nil, err
	}
	media, err := block(mediaDark, "prefers-color-scheme: dark")
	if err != nil {
		return nil, nil, err
	}
	for name, v := range dark {
		if media[name] != v {
			return nil, nil, fmt.Errorf("--%s is %s under [data-theme=dark] but %q under prefers-color-scheme: dark", name, v, media[name])
		}
	}
	if len(media) != len(dark) {
		return nil, nil, fmt.Errorf("the dark blocks set different tokens (%d and %d colours)", len(media), len(dark))
	}
	return light, dark, nil
}

// ContrastRule is a pair of tokens, a foreground on a background, and the
// contrast ratio WCAG 2.2 level AA asks of it.
type ContrastRule struct {
	Fg, Bg, Use string
	Min         float64
}

// Text needs 4.5:1 (WCAG 1.4.3); borders that show a control and the
// focus ring 3:1 (1.4.11).
const (
	textAA = 4.5
	uiAA   = 3
)

// ContrastRules are the pairs the components put together (app.css).
var ContrastRules = []ContrastRule{
	{"text", "bg", "body text", textAA},
	{"text", "surface", "text on cards", textAA},
	{"text", "surface-2", "text on table headers and hovered rows", textAA},
	{"muted", "bg", "secondary text", textAA},
	{"muted", "surface", "secondary text on cards, nav links", textAA},
	{"muted", "surface-2", "table header text", textAA},
	{"accent", "bg", "links", textAA},
	{"accent", "surface", "links on cards", textAA},
	{"accent-hover", "surface", "hovered links", textAA},
	{"accent-text", "accent", "primary buttons", textAA},
	{"accent-text", "accent-hover", "hovered primary buttons", textAA},
	{"accent", "accent-soft", "current nav link, accent badge", textAA},
	{"surface", "danger", "danger buttons", textAA},
	{"danger", "bg", "field errors", textAA},
	{"danger", "surface", "field errors on cards", textAA},
	{"danger", "danger-soft", "danger badge", textAA},
	{"success", "bg", "success text", textAA},
	{"success", "success-soft", "success badge", textAA},
	{"warning", "bg", "warning text", textAA},
	{"warning", "warning-soft", "warning badge", textAA},
	{"text", "accent-soft", "info flash", textAA},
	{"text", "danger-soft", "error flash, confirmation", textAA},
	{"text", "success-soft", "success flash", textAA},
	{"text", "warning-soft", "warning flash", textAA},
	{"border-strong", "surface", "input and button borders", uiAA},
	{"border-strong", "bg", "empty-state border", uiAA},
	{"focus", "bg", "focus ring", uiAA},
	{"focus", "surface", "focus ring on cards", uiAA},
}

// Check returns one line for each rule the palette fails (a missing
// token is a failure too), none when all pass.
func (p Palette) Check() []string {
	var fails []string
	for _, r := range ContrastRules {
		c, err := Contrast(p[r.Fg], p[r.Bg])
		switch {
		case err != nil:
			fails = append(fails, fmt.Sprintf("--%s on --%s (%s): %v", r.Fg, r.Bg, r.Use, err))
		case c < r.Min:
			fails = append(fails, fmt.Sprintf("--%s %s on --%s %s (%s): %.2f:1, AA needs %.1f:1", r.Fg, p[r.Fg], r.Bg, p[r.Bg], r.Use, c, r.Min))
		}
	}
	return fails
}

// Contrast is the WCAG contrast ratio of two hex colours, 1 to 21.
func Contrast(a, b string) (float64, error) {
	la, err := luminance(a)
	if err != nil {
		return 0, err
	}
	lb, err := luminance(b)
	if err != nil {
		return 0, err
	}
	return (max(la, lb) + 0.05) / (min(la, lb) + 0.05), nil
}

// luminance is the relative luminance of a #rgb or #rrggbb colour.
func luminance(hex string) (float64, error) {
	h := strings.TrimPrefix(hex, "#")
	if len(h) == 3 {
		h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
	}
	if len(h) != 6 || !strings.HasPrefix(hex, "#") {
		return 0, fmt.Errorf("colour %q is not #rgb or #rrggbb", hex)
	}
	n, err := strconv.ParseUint(h, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("colour %q: %w", hex, err)
	}
	lin := func(c uint64) float64 {
		s := float64(c) / 255
		if s <= 0.04045 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(n>>16&0xff) + 0.7152*lin(n>>8&0xff) + 0.0722*lin(n&0xff), nil
}
