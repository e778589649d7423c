package static_test

import (
	"maps"
	"math"
	"testing"

	"github.com/launchkit/launchkit/static"
)

// TestTokenColoursMeetWCAGAAInBothThemes: every pair of colour tokens the
// components put together (static.ContrastRules) has the contrast WCAG
// AA asks, in the light theme and in the dark one.
func TestTokenColoursMeetWCAGAAInBothThemes(t *testing.T) {
	light, dark, err := static.Themes()
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]static.Palette{"light": light, "dark": dark} {
		t.Run(name, func(t *testing.T) {
			if len(p) < 17 {
				t.Fatalf("only %d colour tokens read: %v", len(p), p)
			}
			for _, f := range p.Check() {
				t.Error(f)
			}
		})
	}

	// The check itself: the light palette with a pale accent, as someone
	// restyling might pick, fails on the primary button and on links.
	t.Run("a pale accent fails", func(t *testing.T) {
		pale := maps.Clone(light)
		pale["accent"], pale["accent-hover"] = "#a5b4fc", "#c7d2fe"
		fails := pale.Check()
		for _, want := range []string{"--accent-text #ffffff on --accent #a5b4fc", "--accent #a5b4fc on --bg"} {
			if !containsPrefix(fails, want) {
				t.Errorf("a pale accent passes %q; failures: %q", want, fails)
			}
		}
	})
}

func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if len(s) >= len(prefix) && s[:len(prefix)] == prefix {
			return true
		}
	}
	return false
}

// TestTokenContrastIsWCAGs: the ratio of known pairs, and the parse of
// the three token blocks, light and the two dark ones that must agree.
func TestTokenContrastIsWCAGs(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want float64
	}{
		{"#000000", "#ffffff", 21}, {"#fff", "#fff", 1}, {"#767676", "#ffffff", 4.54}, {"#4f46e5", "#ffffff", 6.29},
	} {
		got, err := static.Contrast(tt.a, tt.b)
		if err != nil || math.Abs(got-tt.want) > 0.01 {
			t.Errorf("Contrast(%s, %s) = %.3f, %v; want %.2f", tt.a, tt.b, got, err, tt.want)
		}
	}
	if _, err := static.Contrast("indigo", "#fff"); err == nil {
		t.Error("a named colour was read as hex")
	}
	const css = ":root {\n  --bg: #fff;\n  --text: #111;\n}\n" +
		"@media (prefers-color-scheme: dark) {\n  :root:not([data-theme=light]) {\n  --bg: #000;\n  --text: #eee;\n  }\n}\n" +
		":root[data-theme=dark] {\n  --bg: #000;\n  --text: #EEE;\n}\n"
	light, dark, err := static.ParseThemes(css)
	if err != nil || light["bg"] != "#fff" || dark["text"] != "#eee" {
		t.Errorf("ParseThemes = %v, %v, %v", light, dark, err)
	}
	if _, _, err := static.ParseThemes(css[:len(css)-10] + "#ddd;\n}\n"); err == nil {
		t.Error("dark blocks that disagree were accepted")
	}
}
