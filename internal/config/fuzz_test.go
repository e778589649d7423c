package config

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// parseSeeds are valid and invalid JSON and YAML documents; f.Add runs
// them in every plain `go test` as well.
var parseSeeds = []string{
	``,
	`{}`,
	`null`,
	`{"APP_NAME": "Shop", "MAIL_PORT": 2525, "DISABLE_SCHEDULER": true, "ADDR": null}`,
	`{"APP_NAME": ["a", "b,c"]}`,
	`{"APP_NAME": ["a", 1, true, null, 1.5e3]}`,
	`{"APP_NAME": {"nested": {"deeper": [1, {"x": 2}]}}}`,
	`{"MAIL_PORT": 1e400, "WORKER_CONCURRENCY": 123456789012345678901234567890, "SESSION_LIFETIME": -0.0}`,
	`{"APP_NAME": "x"}}`,
	`{"APP_NAME": "x"} {"ADDR": ":1"}`,
	`{"APP_NAME": "\ud800", "ADDR": "\u0000"}`,
	`{"SECRET_KEY": "unterminated`,
	`[1, 2, 3]`,
	`"just a string"`,
	strings.Repeat(`{"a":`, 200) + `1` + strings.Repeat(`}`, 200),
	strings.Repeat(`[`, 300) + strings.Repeat(`]`, 300),
	"APP_NAME: Shop\nMAIL_PORT: 2525\nDISABLE_SCHEDULER: yes\n",
	"APP_NAME: [a, b]\nMAIL_SERVER: ['x,y']\n",
	"APP_NAME:\n  - a\n  - [b]\n",
	"base: &b {APP_NAME: x, ADDR: ':9'}\n<<: *b\nADDR: ':1'\n",
	"<<: [*missing]\n",
	"a: &a [*a]\nAPP_NAME: *a\n",
	"a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\nAPP_NAME: *d\n",
	"x: &x {a: 1}\n<<: [*x, *x, *x]\n",
	"1: one\ntrue: yes\n~: null\n[a]: b\n",
	"? {a: 1}\n: value\n",
	"MAIL_PORT: 99999999999999999999999\nWORKER_CONCURRENCY: 0x1F\nSESSION_LIFETIME: .inf\n",
	"SECRET_KEY: !!int not-a-number\nAPP_NAME: !!binary aGVsbG8=\nADDR: !!binary ???\n",
	"MAIL_PASSWORD: !custom tag\nMAIL_USERNAME: *nope\n",
	"APP_NAME: 2024-01-01T10:00:00Z\nMAIL_USERNAME: 0123\n",
	"APP_NAME: a\n---\nADDR: ':1'\n",
	"---\n...\n---\n",
	"%YAML 1.2\n---\nAPP_NAME: x\n",
	"APP_NAME: x\nAPP_NAME: y\n",
	"- a\n- b\n",
	"plain scalar",
	"APP_NAME: [unclosed\n",
	"\tAPP_NAME: tab\n",
	"APP_NAME: \"bad \\q escape\"\n",
	"\xef\xbb\xbfAPP_NAME: bom\n",
	"APP_NAME: \xff\xfe\n",
	strings.Repeat("- ", 500) + "x\n",
	"app_name: lower\nsession-store: memory\n",
	"OIDC_PROVIDERS:\n  - name: g\n    issuer: https://accounts.google.com\n    client_id: x\n    client_secret: s3cret-s3cret\n    roles: {admin: [a]}\n",
	"OIDC_PROVIDERS: [{name: a, issuer: 'http://127.0.0.1:1', client_id: 0123, allow_signup: maybe}]\n",
	"OIDC_PROVIDERS: &p [{<<: *p}]\n",
	"OIDC_PROVIDERS: '[{\"name\": \"a\"}]'\n",
	`{"OIDC_PROVIDERS": [{"name": "a", "client_secret": 1e400, "roles": {"admin": "x"}}]}`,
	`{"OIDC_PROVIDERS": {"name": "a"}}`,
	`{"OIDC_PROVIDERS": [[]]}`,
}

func FuzzParseDocument(f *testing.F) {
	for _, seed := range parseSeeds {
		for _, fm := range []format{formatAuto, formatJSON, formatYAML} {
			f.Add([]byte(seed), uint8(fm))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, fm uint8) {
		values, warnings, err := parseDocument(data, format(fm%3))
		if err != nil {
			if values != nil || warnings != nil {
				t.Errorf("error %v came with values %q and warnings %q", err, values, warnings)
			}
			return
		}
		for key := range values {
			if _, known := keyIndex[key]; !known {
				t.Errorf("returned unknown key %q", key)
			}
		}
		for _, w := range warnings {
			if !strings.HasPrefix(w, "unknown key ") {
				t.Errorf("unexpected warning %q", w)
			}
		}
	})
}

// fuzzFileNames pick how Load sees the fuzzed file: by extension or sniffed.
var fuzzFileNames = []string{"app.yaml", "app.json", "app.conf"}

func FuzzLoadFile(f *testing.F) {
	for _, seed := range parseSeeds {
		f.Add([]byte(seed), uint8(0))
	}
	for i, seed := range []string{
		"ENV: production\nSECRET_KEY: " + strings.Repeat("k", 32) + "\nREDIS_URL: redis://r\nDATABASE_URL: postgres://u:pw-123456@db/app\n",
		"ENV: production\n",
		`{"ENV": "PRODUCTION", "ALLOW_SQLITE_IN_PRODUCTION": "maybe"}`,
		"AWS_SECRETS_MANAGER_CONFIG: app/prod\nAWS_SECRETS_TIMEOUT: 1ns\n",
		"AWS_SECRETS_MANAGER_CONFIG: app/prod\nAWS_SECRETS_TIMEOUT: -5s\n",
		"AWS_SECRETS_MANAGER_CONFIG: app/prod\nAPP_NAME: from file\n",
		"DATABASE_URL: 'postgres://u:p%zz@db/app'\nREDIS_URL: '://'\nBASE_URL: http://u:pw@[::1\n",
		"ADDR: '[::1]:80'\nBASE_URL: https://example.com\nMAIL_PORT: 0\nMAIL_SERVER: ''\nMAIL_OUTBOX_DIR: ''\n",
		"SESSION_LIFETIME: 9223372036854775807ns\nSHUTDOWN_TIMEOUT: 2562047h\n",
		"SESSION_LIFETIME: 9999999999h\n",
	} {
		f.Add([]byte(seed), uint8(i))
	}
	dir := f.TempDir() // one per process: a fuzz worker runs one input at a time
	f.Fuzz(func(t *testing.T, data []byte, name uint8) {
		path := filepath.Join(dir, fuzzFileNames[int(name)%len(fuzzFileNames)])
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		// The same bytes serve as the secret payload when the file names one.
		cfg, err := Load(context.Background(), Options{
			File:    path,
			Getenv:  env{}.get,
			Secrets: &fakeSecrets{payload: string(data)},
		})
		if (cfg == nil) == (err == nil) {
			t.Fatalf("Load returned config %v and error %v; want exactly one", cfg != nil, err)
		}
		if err != nil {
			var cerr *Error
			if !errors.As(err, &cerr) || len(cerr.Problems) == 0 {
				t.Fatalf("Load error %T %v, want an *Error with problems", err, err)
			}
			_ = err.Error()
			return
		}
		for _, e := range cfg.Entries() {
			if k := keyIndex[e.Key]; (k.Sensitive || e.Source.IsSecret()) && e.Value != "" && e.Value != Redacted {
				t.Errorf("%s from %s printed as %q", e.Key, e.Source, e.Value)
			}
			for _, p := range cfg.OIDCProviders {
				if p.ClientSecret != "" && p.ClientSecret != Redacted && e.Key == "OIDC_PROVIDERS" && strings.Contains(e.Value, `"client_secret":`+strconvQuote(p.ClientSecret)) {
					t.Errorf("OIDC_PROVIDERS printed a client secret: %s", e.Value)
				}
			}
		}
		if len(cfg.SecretKey) < 32 && cfg.GeneratedSecretKey {
			t.Errorf("generated SECRET_KEY is %d bytes", len(cfg.SecretKey))
		}
	})
}
