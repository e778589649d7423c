package config

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the README's configuration table from the Config struct")

const (
	tableStart = "<!-- config-keys:start -->\n"
	tableEnd   = "<!-- config-keys:end -->"
)

// TestREADMEDocumentsEveryKey keeps the README's key table equal to the
// struct tags. After changing a key: go test ./internal/config -run README -update
func TestREADMEDocumentsEveryKey(t *testing.T) {
	const path = "../../README.md"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	i, j := strings.Index(readme, tableStart), strings.Index(readme, tableEnd)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the %q … %q markers", strings.TrimSpace(tableStart), tableEnd)
	}
	got, want := readme[i+len(tableStart):j], MarkdownTable()
	if got == want {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(readme[:i+len(tableStart)]+want+readme[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md's configuration table is out of date; run: go test ./internal/config -run README -update\nwant:\n%s", want)
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
