package config

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeSecrets is the SecretFetcher test seam: it returns the payload or
// error it was given and records every request.
type fakeSecrets struct {
	payload string
	err     error
	block   bool // wait for ctx to end, like a fetcher with no network

	mu       sync.Mutex
	requests []SecretRequest
}

func (f *fakeSecrets) FetchSecret(ctx context.Context, req SecretRequest) ([]byte, error) {
	f.mu.Lock()
	f.requests = append(f.requests, req)
	f.mu.Unlock()
	if f.block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if f.err != nil {
		return nil, f.err
	}
	return []byte(f.payload), nil
}

func (f *fakeSecrets) onlyRequest(t *testing.T) SecretRequest {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.requests) != 1 {
		t.Fatalf("fetcher called %d times, want once", len(f.requests))
	}
	return f.requests[0]
}

// env is a fake environment for Options.Getenv, so no test reads the real one.
type env map[string]string

func (e env) get(name string) string { return e[name] }

// writeFile writes a config file into a fresh temporary directory.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustLoad(t *testing.T, opts Options) *Config {
	t.Helper()
	if opts.Getenv == nil {
		opts.Getenv = env{}.get
	}
	cfg, err := Load(context.Background(), opts)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return cfg
}

// loadError loads opts, expecting the configuration to be refused.
func loadError(t *testing.T, opts Options) *Error {
	t.Helper()
	if opts.Getenv == nil {
		opts.Getenv = env{}.get
	}
	cfg, err := Load(context.Background(), opts)
	if err == nil {
		t.Fatalf("Load succeeded (ENV=%s), want an error", cfg.Env)
	}
	if cfg != nil {
		t.Errorf("Load returned a config along with its error")
	}
	var cerr *Error
	if !errors.As(err, &cerr) {
		t.Fatalf("Load error is %T (%v), want *Error", err, err)
	}
	return cerr
}

// problem returns the one problem reported for key.
func (e *Error) problem(t *testing.T, key string) Problem {
	t.Helper()
	var found []Problem
	for _, p := range e.Problems {
		if p.Key == key {
			found = append(found, p)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d problems for %s, want 1; error:\n%v", len(found), key, e)
	}
	return found[0]
}

func assertContains(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s %q does not contain %q", what, s, sub)
		}
	}
}

func assertNotContains(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			t.Errorf("%s contains %q:\n%s", what, sub, s)
		}
	}
}

func TestLoadLaterLayersWin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key                       string
		file, secret, env         string // the raw value each layer sets
		def, inFile, inSec, inEnv any    // the typed value each row expects
		get                       func(*Config) any
	}{
		{"APP_NAME", "From File", "From Secret", "From Env",
			"Launchkit", "From File", "From Secret", "From Env",
			func(c *Config) any { return c.AppName }},
		{"DISABLE_SCHEDULER", "true", "false", "yes",
			false, true, false, true,
			func(c *Config) any { return c.DisableScheduler }},
		{"WORKER_CONCURRENCY", "3", "4", "5",
			10, 3, 4, 5,
			func(c *Config) any { return c.WorkerConcurrency }},
		{"SESSION_LIFETIME", "1h", "90m", "48h",
			24 * time.Hour, time.Hour, 90 * time.Minute, 48 * time.Hour,
			func(c *Config) any { return c.SessionLifetime }},
		{"TRUSTED_ORIGINS", "[https://a.example, https://b.example]", "https://c.example", " https://d.example , https://e.example ,",
			[]string(nil), []string{"https://a.example", "https://b.example"}, []string{"https://c.example"}, []string{"https://d.example", "https://e.example"},
			func(c *Config) any { return c.TrustedOrigins }},
	}
	rows := []struct {
		name   string
		layers int // how many of file, secret, env are set
	}{
		{"default only", 0},
		{"file overrides default", 1},
		{"secret overrides file", 2},
		{"env overrides secret", 3},
	}
	for _, k := range tests {
		for _, row := range rows {
			t.Run(k.key+"/"+row.name, func(t *testing.T) {
				t.Parallel()
				path := writeFile(t, "app.yaml", "LOG_LEVEL: debug\n")
				secrets := &fakeSecrets{payload: `{"LOG_FORMAT": "json"}`}
				e := env{"APPLICATION_SETTINGS": path}
				want, wantSource := k.def, SourceDefault
				if row.layers >= 1 {
					path = writeFile(t, "app.yaml", k.key+": "+k.file+"\n")
					e["APPLICATION_SETTINGS"] = path
					want, wantSource = k.inFile, fileSource(path)
				}
				if row.layers >= 2 {
					e["AWS_SECRETS_MANAGER_CONFIG"] = secretName
					secrets.payload = `{"` + k.key + `": "` + k.secret + `"}`
					want, wantSource = k.inSec, secretSource(secretName)
				}
				if row.layers >= 3 {
					e[k.key] = k.env
					want, wantSource = k.inEnv, SourceEnv
				}

				cfg := mustLoad(t, Options{Getenv: e.get, Secrets: secrets})
				if got := k.get(cfg); !reflect.DeepEqual(got, want) {
					t.Errorf("%s = %v, want %v", k.key, got, want)
				}
				if got := cfg.Source(k.key); got != wantSource {
					t.Errorf("Source(%s) = %q, want %q", k.key, got, wantSource)
				}
			})
		}
	}
}

func TestLoadSources(t *testing.T) {
	t.Parallel()
	path := writeFile(t, "app.yaml", "ADDR: ':9000'\nAWS_SECRETS_MANAGER_CONFIG: app/prod\n")
	cfg := mustLoad(t, Options{
		File:    path,
		Getenv:  env{"LOG_LEVEL": "warn"}.get,
		Secrets: &fakeSecrets{payload: "MAIL_SERVER: smtp.example.com\n"},
	})
	for key, want := range map[string]Source{
		"APP_NAME":    "default",
		"ADDR":        Source("file:" + path),
		"MAIL_SERVER": "secret:app/prod",
		"LOG_LEVEL":   "env",
	} {
		if got := cfg.Source(key); got != want {
			t.Errorf("Source(%s) = %q, want %q", key, got, want)
		}
	}
	if !cfg.Source("MAIL_SERVER").IsSecret() || cfg.Source("ADDR").IsSecret() {
		t.Errorf("IsSecret wrong: secret layer %v, file layer %v", cfg.Source("MAIL_SERVER").IsSecret(), cfg.Source("ADDR").IsSecret())
	}
}

func TestLoadFileListJoinsWithCommas(t *testing.T) {
	t.Parallel()
	// Config has no list-typed key yet; a list in a file still reads as
	// one comma-separated value, as it would in the environment.
	for name, content := range map[string]string{
		"app.yaml": "APP_NAME: [North, South, 3]\n",
		"app.json": `{"APP_NAME": ["North", "South", 3]}`,
	} {
		cfg := mustLoad(t, Options{File: writeFile(t, name, content)})
		if cfg.AppName != "North,South,3" {
			t.Errorf("%s: APP_NAME = %q, want %q", name, cfg.AppName, "North,South,3")
		}
	}
}

func TestLoadEmptyEnvValueIsUnset(t *testing.T) {
	t.Parallel()
	path := writeFile(t, "app.yaml", "APP_NAME: From File\n")
	cfg := mustLoad(t, Options{File: path, Getenv: env{"APP_NAME": "", "WORKER_CONCURRENCY": ""}.get})
	if cfg.AppName != "From File" || cfg.Source("APP_NAME") != fileSource(path) {
		t.Errorf("APP_NAME = %q from %q, want the file's value", cfg.AppName, cfg.Source("APP_NAME"))
	}
	if cfg.WorkerConcurrency != 10 || cfg.Source("WORKER_CONCURRENCY") != SourceDefault {
		t.Errorf("WORKER_CONCURRENCY = %d from %q, want the default", cfg.WorkerConcurrency, cfg.Source("WORKER_CONCURRENCY"))
	}
}

func TestLoadTypedValuesFromEnv(t *testing.T) {
	t.Parallel()
	valid := []struct {
		key, raw string
		want     any
		get      func(*Config) any
	}{
		{"DISABLE_SCHEDULER", "true", true, disableScheduler},
		{"DISABLE_SCHEDULER", "false", false, disableScheduler},
		{"DISABLE_SCHEDULER", "1", true, disableScheduler},
		{"DISABLE_SCHEDULER", "0", false, disableScheduler},
		{"DISABLE_SCHEDULER", "yes", true, disableScheduler},
		{"DISABLE_SCHEDULER", "no", false, disableScheduler},
		{"DISABLE_SCHEDULER", "TRUE", true, disableScheduler},
		{"DISABLE_SCHEDULER", " true ", true, disableScheduler},
		{"WORKER_CONCURRENCY", "25", 25, workerConcurrency},
		{"WORKER_CONCURRENCY", " 7", 7, workerConcurrency},
		{"SESSION_LIFETIME", "24h", 24 * time.Hour, sessionLifetime},
		{"SESSION_LIFETIME", "90s", 90 * time.Second, sessionLifetime},
		{"SESSION_LIFETIME", "1h30m", 90 * time.Minute, sessionLifetime},
		{"SESSION_IDLE_TIMEOUT", "0", time.Duration(0), func(c *Config) any { return c.SessionIdleTimeout }},
	}
	for _, tc := range valid {
		t.Run(tc.key+"="+tc.raw, func(t *testing.T) {
			t.Parallel()
			cfg := mustLoad(t, Options{Getenv: env{tc.key: tc.raw}.get})
			if got := tc.get(cfg); got != tc.want {
				t.Errorf("%s=%q: got %v, want %v", tc.key, tc.raw, got, tc.want)
			}
		})
	}

	invalid := []struct{ key, raw, message string }{
		{"DISABLE_SCHEDULER", "maybe", "not a boolean"},
		{"WORKER_CONCURRENCY", "ten", "not a whole number"},
		{"WORKER_CONCURRENCY", "2.5", "not a whole number"},
		{"SESSION_LIFETIME", "3600", "not a duration"},
		{"SESSION_LIFETIME", "abc", "not a duration"},
	}
	for _, tc := range invalid {
		t.Run(tc.key+"="+tc.raw, func(t *testing.T) {
			t.Parallel()
			err := loadError(t, Options{Getenv: env{tc.key: tc.raw}.get})
			p := err.problem(t, tc.key)
			if p.Source != SourceEnv {
				t.Errorf("problem source = %q, want env", p.Source)
			}
			assertContains(t, "problem", p.Message, tc.message, `"`+tc.raw+`"`)
			assertContains(t, "error", err.Error(), tc.key+" (from env)")
		})
	}
}

func TestLoadTypedValuesFromFile(t *testing.T) {
	t.Parallel()
	files := map[string]string{
		"app.yaml": "MAIL_PORT: 2525\nDISABLE_SCHEDULER: true\nUSER_ENABLE_REGISTER: no\nWORKER_CONCURRENCY: 3\nSESSION_LIFETIME: 90s\n",
		"app.json": `{"MAIL_PORT": 2525, "DISABLE_SCHEDULER": true, "USER_ENABLE_REGISTER": false, "WORKER_CONCURRENCY": 3, "SESSION_LIFETIME": "90s"}`,
	}
	for name, content := range files {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := mustLoad(t, Options{File: writeFile(t, name, content)})
			if cfg.MailPort != 2525 || !cfg.DisableScheduler || cfg.UserEnableRegister ||
				cfg.WorkerConcurrency != 3 || cfg.SessionLifetime != 90*time.Second {
				t.Errorf("got MAIL_PORT=%d DISABLE_SCHEDULER=%v USER_ENABLE_REGISTER=%v WORKER_CONCURRENCY=%d SESSION_LIFETIME=%s",
					cfg.MailPort, cfg.DisableScheduler, cfg.UserEnableRegister, cfg.WorkerConcurrency, cfg.SessionLifetime)
			}
		})
	}

	invalid := []struct{ name, content, key, message string }{
		{"app.yaml", "DISABLE_SCHEDULER: maybe\n", "DISABLE_SCHEDULER", "not a boolean"},
		{"app.yaml", "WORKER_CONCURRENCY: ten\n", "WORKER_CONCURRENCY", "not a whole number"},
		{"app.yaml", "MAIL_PORT: 2525.5\n", "MAIL_PORT", "not a whole number"},
		{"app.json", `{"WORKER_CONCURRENCY": 1e400}`, "WORKER_CONCURRENCY", "not a whole number"},
		{"app.json", `{"WORKER_CONCURRENCY": 99999999999999999999999}`, "WORKER_CONCURRENCY", "not a whole number"},
		{"app.yaml", "SESSION_LIFETIME: 3600\n", "SESSION_LIFETIME", "not a duration"},
		{"app.json", `{"SESSION_LIFETIME": 3600}`, "SESSION_LIFETIME", "not a duration"},
		{"app.yaml", "SESSION_LIFETIME: abc\n", "SESSION_LIFETIME", "not a duration"},
	}
	for _, tc := range invalid {
		t.Run(tc.name+"/"+tc.content, func(t *testing.T) {
			t.Parallel()
			path := writeFile(t, tc.name, tc.content)
			err := loadError(t, Options{File: path})
			p := err.problem(t, tc.key)
			if p.Source != fileSource(path) {
				t.Errorf("problem source = %q, want file:%s", p.Source, path)
			}
			assertContains(t, "problem", p.Message, tc.message)
			assertContains(t, "error", err.Error(), tc.key+" (from file:"+path+")")
		})
	}
}

func disableScheduler(c *Config) any  { return c.DisableScheduler }
func workerConcurrency(c *Config) any { return c.WorkerConcurrency }
func sessionLifetime(c *Config) any   { return c.SessionLifetime }

func TestLoadDevelopmentSecretKey(t *testing.T) {
	t.Parallel()
	t.Run("absent: a random one per load", func(t *testing.T) {
		first := mustLoad(t, Options{})
		second := mustLoad(t, Options{})
		for _, cfg := range []*Config{first, second} {
			if !cfg.GeneratedSecretKey {
				t.Error("GeneratedSecretKey = false, want true")
			}
			if len(cfg.SecretKey) < 32 {
				t.Errorf("generated SECRET_KEY has %d bytes, want at least 32", len(cfg.SecretKey))
			}
		}
		if first.SecretKey == second.SecretKey {
			t.Error("two loads generated the same SECRET_KEY")
		}
		assertContains(t, "SecretValues", strings.Join(first.SecretValues(), "\n"), first.SecretKey)
	})
	t.Run("set: used as is", func(t *testing.T) {
		cfg := mustLoad(t, Options{Getenv: env{"SECRET_KEY": "short-dev-key"}.get})
		if cfg.SecretKey != "short-dev-key" || cfg.GeneratedSecretKey {
			t.Errorf("SECRET_KEY = %q, GeneratedSecretKey = %v; want the configured key, false", cfg.SecretKey, cfg.GeneratedSecretKey)
		}
	})
}

// TestDebugListenAddr: a bare DEBUG_ADDR port listens on loopback, not
// on every interface as ADDR's would; a host given is kept.
func TestDebugListenAddr(t *testing.T) {
	for addr, want := range map[string]string{
		"":             "",
		":6060":        "127.0.0.1:6060",
		"0.0.0.0:6060": "0.0.0.0:6060",
		"[::1]:6060":   "[::1]:6060",
		"debug:6060":   "debug:6060",
	} {
		c := &Config{DebugAddr: addr}
		if got := c.DebugListenAddr(); got != want {
			t.Errorf("DEBUG_ADDR=%q listens on %q, want %q", addr, got, want)
		}
	}
}
