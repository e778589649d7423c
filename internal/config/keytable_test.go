package config

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the configuration page's key table from the Config struct")

const (
	// keyTablePage is the page that documents every key, between the markers.
	keyTablePage = "../../docs/configuration.md"
	tableStart   = "<!-- config-keys:start -->\n"
	tableEnd     = "<!-- config-keys:end -->"
)

// TestKeyTableIsCurrent keeps the key table of docs/configuration.md equal
// to the struct tags. After changing a key: go test ./internal/config -run KeyTable -update
func TestKeyTableIsCurrent(t *testing.T) {
	data, err := os.ReadFile(keyTablePage)
	if err != nil {
		t.Fatal(err)
	}
	page := string(data)
	i, j := strings.Index(page, tableStart), strings.Index(page, tableEnd)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the %q … %q markers", keyTablePage, strings.TrimSpace(tableStart), tableEnd)
	}
	got, want := page[i+len(tableStart):j], MarkdownTable()
	if got == want {
		return
	}
	if *update {
		if err := os.WriteFile(keyTablePage, []byte(page[:i+len(tableStart)]+want+page[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s's key table is out of date; run: go test ./internal/config -run KeyTable -update\nwant:\n%s", keyTablePage, want)
}

// TestExampleConfigLoadsCleanly keeps config.example.yaml in step with the
// keys: it must load without problems and without unknown-key warnings.
func TestExampleConfigLoadsCleanly(t *testing.T) {
	cfg, err := Load(t.Context(), Options{File: "../../config.example.yaml", Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Warnings) > 0 {
		t.Errorf("config.example.yaml has warnings: %v", cfg.Warnings)
	}
	if got := cfg.Source("APP_NAME"); got != "file:../../config.example.yaml" {
		t.Errorf("APP_NAME source = %q", got)
	}
}
