package config

import (
	"fmt"
	"strings"
)

// MarkdownTable documents every key as a Markdown table: the key table of
// docs/configuration.md is this output, checked by a test.
func MarkdownTable() string {
	var b strings.Builder
	b.WriteString("| key | type | default | what it does |\n|---|---|---|---|\n")
	for _, k := range keys {
		def := "(empty)"
		if k.Default != "" {
			def = "`" + k.Default + "`"
		}
		if k.ProductionDefault != "" {
			def += fmt.Sprintf("; `%s` in production", k.ProductionDefault)
		}
		help := k.Help
		if k.Sensitive {
			help += " (secret: never printed)"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", k.Name, k.Type, def, strings.ReplaceAll(help, "|", `\|`))
	}
	return b.String()
}
