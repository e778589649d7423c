package config

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadFileProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, file, content string
		says                []string
	}{
		{"unparseable YAML", "app.yaml", "APP_NAME: [unclosed\n", []string{"not valid YAML", "line"}},
		{"YAML with a tab indent", "app.yaml", "APP_NAME: x\n\tADDR: y\n", []string{"not valid YAML"}},
		{"unparseable JSON", "app.json", "{\n  \"APP_NAME\": \"x\",\n  \"ADDR\" \":1\"\n}\n", []string{"not valid JSON", "line 3, column 10"}},
		{"truncated JSON", "app.json", "{\n  \"APP_NAME\": \"x\",\n", []string{"not valid JSON", "unexpected end", "line 3, column 1"}},
		{"text after the JSON object", "app.json", "{\"APP_NAME\": \"x\"}\n}\n", []string{"not valid JSON", "after the object", "line 2, column 1"}},
		{"two JSON objects", "app.json", `{"APP_NAME": "x"} {"ADDR": ":1"}`, []string{"not valid JSON", "after the object"}},
		{"two YAML documents", "app.yaml", "APP_NAME: x\n---\nADDR: ':1'\n", []string{"more than one document"}},
		{"duplicate YAML key", "app.yaml", "APP_NAME: x\nAPP_NAME: y\n", []string{"APP_NAME", "already defined"}},
		{"top-level YAML list", "app.yaml", "- APP_NAME\n- ADDR\n", []string{"not a JSON/YAML object"}},
		{"top-level YAML scalar", "app.yaml", "hello\n", []string{"not a JSON/YAML object"}},
		{"top-level JSON list", "app.json", `[{"APP_NAME": "x"}]`, []string{"not a JSON/YAML object"}},
		{"top-level JSON string", "app.json", `"APP_NAME"`, []string{"not a JSON/YAML object"}},
		{"nested YAML object", "app.yaml", "APP_NAME:\n  short: x\n", []string{"APP_NAME", "not an object"}},
		{"nested JSON object", "app.json", `{"DATABASE_URL": {"host": "db"}}`, []string{"DATABASE_URL", "not an object"}},
		{"list of lists", "app.yaml", "APP_NAME: [[a], [b]]\n", []string{"APP_NAME", "list"}},
		{"list item with a comma", "app.yaml", "APP_NAME: ['a,b']\n", []string{"APP_NAME", "commas"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := writeFile(t, tc.file, tc.content)
			err := loadError(t, Options{Getenv: env{"APPLICATION_SETTINGS": path}.get})
			p := err.problem(t, "APPLICATION_SETTINGS")
			if p.Source != fileSource(path) {
				t.Errorf("problem source = %q, want file:%s", p.Source, path)
			}
			assertContains(t, "problem", p.Message, tc.says...)
			assertContains(t, "error", err.Error(), "APPLICATION_SETTINGS (from file:"+path+")")
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "missing.yaml")

	err := loadError(t, Options{Getenv: env{"APPLICATION_SETTINGS": path}.get})
	p := err.problem(t, "APPLICATION_SETTINGS")
	if p.Source != SourceEnv {
		t.Errorf("problem source = %q, want env (APPLICATION_SETTINGS named the file)", p.Source)
	}
	assertContains(t, "problem", p.Message, path, "cannot read")

	err = loadError(t, Options{File: path})
	p = err.problem(t, "APPLICATION_SETTINGS")
	assertContains(t, "problem", p.Message, path)
	assertContains(t, "source", string(p.Source), "-config")
}

func TestLoadEmptyFile(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, content string }{
		{"app.yaml", ""},
		{"app.yml", "# nothing set yet\n"},
		{"app.yaml", "---\n"},
		{"app.json", ""},
		{"app.json", "  \n"},
		{"app.json", "{}"},
		{"app.json", "null"},
		{"app.conf", ""},
	} {
		path := writeFile(t, tc.name, tc.content)
		cfg := mustLoad(t, Options{File: path})
		if cfg.AppName != "Launchkit" || cfg.Source("APP_NAME") != SourceDefault {
			t.Errorf("%s %q: APP_NAME = %q from %q, want the default", tc.name, tc.content, cfg.AppName, cfg.Source("APP_NAME"))
		}
		if len(cfg.Warnings) != 0 {
			t.Errorf("%s %q: warnings %q", tc.name, tc.content, cfg.Warnings)
		}
	}
}

func TestLoadFileFormatFromExtensionOrContent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, content string }{
		{"app.yaml", "APP_NAME: Shop\n"},
		{"app.YML", "APP_NAME: Shop\n"},
		{"app.json", `{"APP_NAME": "Shop"}`},
		{"app.conf", `  {"APP_NAME": "Shop"}`},
		{"app.conf", "APP_NAME: Shop\n"},
		{"settings", "---\nAPP_NAME: Shop\n"},
	} {
		cfg := mustLoad(t, Options{File: writeFile(t, tc.name, tc.content)})
		if cfg.AppName != "Shop" {
			t.Errorf("%s: APP_NAME = %q, want Shop", tc.name, cfg.AppName)
		}
	}
}

func TestLoadFileUnknownKeysWarn(t *testing.T) {
	t.Parallel()
	path := writeFile(t, "app.yaml", "app_name: Shop\nsession-store: memory\nCOLOUR: blue\nADDR: ':9000'\n")
	cfg := mustLoad(t, Options{File: path})
	if cfg.AppName != "Launchkit" {
		t.Errorf("APP_NAME = %q: a misspelt key must not set it", cfg.AppName)
	}
	if cfg.Addr != ":9000" {
		t.Errorf("ADDR = %q: known keys next to unknown ones still apply", cfg.Addr)
	}
	warnings := strings.Join(cfg.Warnings, "\n")
	if len(cfg.Warnings) != 3 {
		t.Errorf("want 3 warnings, got:\n%s", warnings)
	}
	for _, w := range cfg.Warnings {
		assertContains(t, "warning", w, "file:"+path)
	}
	assertContains(t, "warnings", warnings,
		`"app_name" ignored (did you mean APP_NAME?)`,
		`"session-store" ignored (did you mean SESSION_STORE?)`,
		`"COLOUR" ignored`)
	assertNotContains(t, "warnings", warnings, "blue", "Shop")
}

func TestLoadFileOptionWinsOverApplicationSettings(t *testing.T) {
	t.Parallel()
	flag := writeFile(t, "flag.yaml", "APP_NAME: From Flag\n")
	named := writeFile(t, "env.yaml", "APP_NAME: From APPLICATION_SETTINGS\n")
	cfg := mustLoad(t, Options{File: flag, Getenv: env{"APPLICATION_SETTINGS": named}.get})
	if cfg.AppName != "From Flag" || cfg.Source("APP_NAME") != fileSource(flag) {
		t.Errorf("APP_NAME = %q from %q, want the -config file's", cfg.AppName, cfg.Source("APP_NAME"))
	}
}

// YAML would type these values (octal, floats, timestamps) and change
// them; the loader keeps the text as written, like an environment variable.
func TestLoadFileKeepsValuesAsWritten(t *testing.T) {
	t.Parallel()
	longKey := strings.Repeat("1234567890", 4)
	path := writeFile(t, "app.yaml", strings.Join([]string{
		"MAIL_PASSWORD: 0123",
		"MAIL_USERNAME: 0x1F",
		"SECRET_KEY: " + longKey,
		"APP_NAME: 2024-01-01",
		"MAIL_DEFAULT_SENDER: 1_000",
		"MAIL_SERVER: !!str 12.50",
		"SESSION_COOKIE_NAME: True",
		"MAIL_OUTBOX_DIR: ~",
		"MAIL_PORT: &port 2525",
		"WORKER_CONCURRENCY: *port",
		"",
	}, "\n"))
	cfg := mustLoad(t, Options{File: path})
	for _, c := range []struct{ key, got, want string }{
		{"MAIL_PASSWORD", cfg.MailPassword, "0123"},
		{"MAIL_USERNAME", cfg.MailUsername, "0x1F"},
		{"SECRET_KEY", cfg.SecretKey, longKey},
		{"APP_NAME", cfg.AppName, "2024-01-01"},
		{"MAIL_DEFAULT_SENDER", cfg.MailDefaultSender, "1_000"},
		{"MAIL_SERVER", cfg.MailServer, "12.50"},
		{"SESSION_COOKIE_NAME", cfg.SessionCookieName, "True"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q as written", c.key, c.got, c.want)
		}
	}
	if cfg.MailPort != 2525 || cfg.WorkerConcurrency != 2525 {
		t.Errorf("MAIL_PORT = %d, WORKER_CONCURRENCY = %d through an alias; want 2525", cfg.MailPort, cfg.WorkerConcurrency)
	}
	if cfg.MailOutboxDir != "" || cfg.Source("MAIL_OUTBOX_DIR") != fileSource(path) {
		t.Errorf("MAIL_OUTBOX_DIR = %q from %q: a null value sets the key empty", cfg.MailOutboxDir, cfg.Source("MAIL_OUTBOX_DIR"))
	}
}

func TestLoadFileYAMLMergeKeys(t *testing.T) {
	t.Parallel()
	path := writeFile(t, "app.yaml", "<<: {APP_NAME: Shop, ADDR: ':9000'}\nADDR: ':9001'\n")
	cfg := mustLoad(t, Options{File: path})
	if cfg.AppName != "Shop" || cfg.Addr != ":9001" {
		t.Errorf("APP_NAME = %q, ADDR = %q; want the merged name and the explicit address", cfg.AppName, cfg.Addr)
	}
}

// Passwords that start with YAML's *, ! or & are common; the message says
// how to fix them without repeating the password.
func TestLoadFileUnquotedPasswordHints(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ content, says string }{
		{"MAIL_PASSWORD: *Xk29pw-alias\n", "starting with *"},
		{"MAIL_PASSWORD: !Xk29pw-tag\n", "starting with !"},
	} {
		path := writeFile(t, "app.yaml", tc.content)
		err := loadError(t, Options{File: path})
		p := err.problem(t, "APPLICATION_SETTINGS")
		assertContains(t, "problem", p.Message, tc.says, "quotes")
		assertNotContains(t, "error", err.Error(), "Xk29pw")
	}
}
