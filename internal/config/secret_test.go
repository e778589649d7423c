package config

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

const secretName = "app/prod"

func TestLoadSecretPayloads(t *testing.T) {
	t.Parallel()
	for name, payload := range map[string]string{
		"JSON":          `{"APP_NAME": "Shop", "MAIL_PORT": 2525, "DISABLE_SCHEDULER": true}`,
		"YAML":          "APP_NAME: Shop\nMAIL_PORT: 2525\nDISABLE_SCHEDULER: true\n",
		"indented JSON": "\n  {\n  \"APP_NAME\": \"Shop\", \"MAIL_PORT\": \"2525\", \"DISABLE_SCHEDULER\": \"yes\"}\n",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := mustLoad(t, Options{
				Getenv:  env{"AWS_SECRETS_MANAGER_CONFIG": secretName}.get,
				Secrets: &fakeSecrets{payload: payload},
			})
			if cfg.AppName != "Shop" || cfg.MailPort != 2525 || !cfg.DisableScheduler {
				t.Errorf("APP_NAME = %q, MAIL_PORT = %d, DISABLE_SCHEDULER = %v", cfg.AppName, cfg.MailPort, cfg.DisableScheduler)
			}
			for _, key := range []string{"APP_NAME", "MAIL_PORT", "DISABLE_SCHEDULER"} {
				if got := cfg.Source(key); got != "secret:"+secretName {
					t.Errorf("Source(%s) = %q, want secret:%s", key, got, secretName)
				}
			}
		})
	}
}

func TestLoadSecretNotConfigured(t *testing.T) {
	t.Parallel()
	secrets := &fakeSecrets{payload: `{"APP_NAME": "Shop"}`}
	cfg := mustLoad(t, Options{Secrets: secrets})
	if cfg.AppName != "Launchkit" || len(secrets.requests) != 0 {
		t.Errorf("APP_NAME = %q after %d fetches; want no fetch without AWS_SECRETS_MANAGER_CONFIG", cfg.AppName, len(secrets.requests))
	}
}

func TestLoadSecretRequest(t *testing.T) {
	t.Parallel()
	t.Run("settings from file and env", func(t *testing.T) {
		t.Parallel()
		path := writeFile(t, "app.yaml", "AWS_SECRETS_MANAGER_CONFIG: app/from-file\nAWS_SECRETS_REGION: eu-west-1\nAWS_SECRETS_VERSION_STAGE: AWSPENDING\n")
		secrets := &fakeSecrets{payload: "{}"}
		cfg := mustLoad(t, Options{File: path, Secrets: secrets, Getenv: env{
			"AWS_SECRETS_VERSION_STAGE": "AWSPREVIOUS",
			"AWS_SECRETS_VERSION_ID":    "v-1234",
		}.get})
		want := SecretRequest{Name: "app/from-file", Region: "eu-west-1", VersionStage: "AWSPREVIOUS", VersionID: "v-1234"}
		if got := secrets.onlyRequest(t); got != want {
			t.Errorf("request = %+v, want %+v", got, want)
		}
		if cfg.AWSSecretsManagerConfig != "app/from-file" || cfg.Source("AWS_SECRETS_MANAGER_CONFIG") != fileSource(path) {
			t.Errorf("AWS_SECRETS_MANAGER_CONFIG = %q from %q", cfg.AWSSecretsManagerConfig, cfg.Source("AWS_SECRETS_MANAGER_CONFIG"))
		}
	})
	t.Run("defaults", func(t *testing.T) {
		t.Parallel()
		secrets := &fakeSecrets{payload: "{}"}
		mustLoad(t, Options{Secrets: secrets, Getenv: env{"AWS_SECRETS_MANAGER_CONFIG": secretName}.get})
		want := SecretRequest{Name: secretName, VersionStage: "AWSCURRENT"}
		if got := secrets.onlyRequest(t); got != want {
			t.Errorf("request = %+v, want %+v", got, want)
		}
	})
}

func TestLoadSecretFailures(t *testing.T) {
	t.Parallel()
	t.Run("fetch error", func(t *testing.T) {
		t.Parallel()
		err := loadError(t, Options{
			Getenv:  env{"AWS_SECRETS_MANAGER_CONFIG": secretName}.get,
			Secrets: &fakeSecrets{err: errors.New("access denied to the secret")},
		})
		p := err.problem(t, "AWS_SECRETS_MANAGER_CONFIG")
		if p.Source != SourceEnv {
			t.Errorf("problem source = %q, want env", p.Source)
		}
		assertContains(t, "problem", p.Message, `"`+secretName+`"`, "access denied")
	})
	t.Run("configured in the file, no fetcher", func(t *testing.T) {
		t.Parallel()
		path := writeFile(t, "app.yaml", "AWS_SECRETS_MANAGER_CONFIG: "+secretName+"\n")
		err := loadError(t, Options{File: path})
		p := err.problem(t, "AWS_SECRETS_MANAGER_CONFIG")
		if p.Source != fileSource(path) {
			t.Errorf("problem source = %q, want file:%s", p.Source, path)
		}
		assertContains(t, "problem", p.Message, `"`+secretName+`"`, "no secret source")
	})
	t.Run("bad secret settings", func(t *testing.T) {
		t.Parallel()
		secrets := &fakeSecrets{payload: "{}"}
		err := loadError(t, Options{Secrets: secrets, Getenv: env{
			"AWS_SECRETS_MANAGER_CONFIG": secretName,
			"AWS_SECRETS_TIMEOUT":        "soon",
		}.get})
		assertContains(t, "problem", err.problem(t, "AWS_SECRETS_MANAGER_CONFIG").Message, "AWS_SECRETS_TIMEOUT")
		err.problem(t, "AWS_SECRETS_TIMEOUT")
		if len(secrets.requests) != 0 {
			t.Error("fetched the secret with unusable settings")
		}
	})
}

func TestLoadSecretTimeout(t *testing.T) {
	t.Parallel()
	start := time.Now()
	err := loadError(t, Options{
		Getenv:  env{"AWS_SECRETS_MANAGER_CONFIG": secretName, "AWS_SECRETS_TIMEOUT": "200ms"}.get,
		Secrets: &fakeSecrets{block: true},
	})
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("Load took %s with AWS_SECRETS_TIMEOUT=200ms", elapsed)
	}
	p := err.problem(t, "AWS_SECRETS_MANAGER_CONFIG")
	assertContains(t, "problem", p.Message, `"`+secretName+`"`, "timed out after 200ms")
}

func TestLoadSecretCancelledIsNotATimeout(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Load(ctx, Options{
		Getenv:  env{"AWS_SECRETS_MANAGER_CONFIG": secretName}.get,
		Secrets: &fakeSecrets{block: true},
	})
	if err == nil {
		t.Fatal("Load succeeded with a cancelled context")
	}
	assertContains(t, "error", err.Error(), secretName, "canceled")
	assertNotContains(t, "error", err.Error(), "timed out")
}

func TestLoadSecretMalformedPayloadIsNotQuoted(t *testing.T) {
	t.Parallel()
	const hidden = "s3cr3t-payload-value"
	for _, payload := range []string{
		`{"SECRET_KEY": "` + hidden + `"`,
		`{"SECRET_KEY": "` + hidden + `",}`,
		`{"SECRET_KEY": ` + hidden + `}`,
		`{"SECRET_KEY": "` + hidden + `"}}`,
		hidden,
		"[" + hidden + "]",
		"SECRET_KEY: " + hidden + "\n  nested: [",
		"SECRET_KEY: '" + hidden,
		"SECRET_KEY: {nested: " + hidden + "}",
		"SECRET_KEY: [" + hidden + ", [x]]",
		"MAIL_PASSWORD: *" + hidden,
		"MAIL_PASSWORD: !" + hidden,
		"SECRET_KEY: " + hidden + "\n---\nAPP_NAME: x\n",
		"SECRET_KEY: " + hidden + "\nSECRET_KEY: " + hidden + "\n",
	} {
		err := loadError(t, Options{
			Getenv:  env{"AWS_SECRETS_MANAGER_CONFIG": secretName}.get,
			Secrets: &fakeSecrets{payload: payload},
		})
		p := err.problem(t, "AWS_SECRETS_MANAGER_CONFIG")
		assertContains(t, "problem", p.Message, `"`+secretName+`"`)
		assertNotContains(t, "error for payload "+payload, err.Error(), hidden, "payload-value")
	}
}

func TestLoadSecretWarnings(t *testing.T) {
	t.Parallel()
	path := writeFile(t, "app.yaml", "AWS_SECRETS_REGION: eu-west-1\n")
	cfg := mustLoad(t, Options{
		File:   path,
		Getenv: env{"AWS_SECRETS_MANAGER_CONFIG": secretName}.get,
		Secrets: &fakeSecrets{payload: `{"COLOUR": "very-secret-blue", "app_name": "x",
			"AWS_SECRETS_REGION": "us-east-1", "AWS_SECRETS_MANAGER_CONFIG": "other/secret"}`},
	})
	warnings := strings.Join(cfg.Warnings, "\n")
	if len(cfg.Warnings) != 4 {
		t.Errorf("want 4 warnings, got:\n%s", warnings)
	}
	for _, w := range cfg.Warnings {
		assertContains(t, "warning", w, "secret:"+secretName+": ")
	}
	assertContains(t, "warnings", warnings, `"COLOUR"`, "did you mean APP_NAME",
		"AWS_SECRETS_REGION has no effect", "AWS_SECRETS_MANAGER_CONFIG has no effect")
	assertNotContains(t, "warnings", warnings, "very-secret-blue", "us-east-1", "other/secret")

	// Settings the secret cannot change are reported with what was used.
	if cfg.AWSSecretsRegion != "eu-west-1" || cfg.Source("AWS_SECRETS_REGION") != fileSource(path) {
		t.Errorf("AWS_SECRETS_REGION = %q from %q, want the file's value that chose the secret", cfg.AWSSecretsRegion, cfg.Source("AWS_SECRETS_REGION"))
	}
	if cfg.AWSSecretsManagerConfig != secretName {
		t.Errorf("AWS_SECRETS_MANAGER_CONFIG = %q, want %q", cfg.AWSSecretsManagerConfig, secretName)
	}
}

// The values a secret payload holds, all distinctive enough to search for.
const (
	hygieneSecretKey = "sk-4f9c2b7e1a8d3c6f5e0b9a7d2c4e6f81"
	hygieneMailPW    = "mail-pw-9f8e7d6c"
	hygieneDBPW      = "db-pw-5a4b3c2d"
	hygieneDBURL     = "postgres://app:" + hygieneDBPW + "@db.internal:5432/app"
	hygieneAppName   = "Project Nightingale"
)

func hygienePayload(extra string) string {
	return `{"SECRET_KEY": "` + hygieneSecretKey + `", "MAIL_PASSWORD": "` + hygieneMailPW +
		`", "DATABASE_URL": "` + hygieneDBURL + `", "APP_NAME": "` + hygieneAppName + `"` + extra + `}`
}

func TestSecretHygiene(t *testing.T) {
	t.Parallel()
	secretValues := []string{hygieneSecretKey, hygieneMailPW, hygieneDBPW, hygieneDBURL, hygieneAppName}

	cfg := mustLoad(t, Options{
		Getenv:  env{"AWS_SECRETS_MANAGER_CONFIG": secretName, "MAIL_USERNAME": "mailer"}.get,
		Secrets: &fakeSecrets{payload: hygienePayload("")},
	})
	if cfg.SecretKey != hygieneSecretKey || cfg.DatabaseURL != hygieneDBURL || cfg.GeneratedSecretKey {
		t.Fatalf("secret values not applied: SECRET_KEY %q, DATABASE_URL %q", cfg.SecretKey, cfg.DatabaseURL)
	}

	t.Run("Entries", func(t *testing.T) {
		var printed strings.Builder
		for _, e := range cfg.Entries() {
			printed.WriteString(e.Key + "=" + e.Value + " (" + string(e.Source) + ")\n")
			switch e.Key {
			case "SECRET_KEY", "MAIL_PASSWORD", "DATABASE_URL", "APP_NAME":
				if e.Value != Redacted || e.Source != "secret:"+secretName {
					t.Errorf("%s printed as %q from %q, want %q from secret:%s", e.Key, e.Value, e.Source, Redacted, secretName)
				}
			case "MAIL_USERNAME":
				if e.Value != "mailer" || e.Source != SourceEnv {
					t.Errorf("MAIL_USERNAME printed as %q from %q", e.Value, e.Source)
				}
			}
		}
		assertNotContains(t, "printed config", printed.String(), secretValues...)
		if got, want := len(cfg.Entries()), len(Keys()); got != want {
			t.Errorf("%d entries, want one per key (%d)", got, want)
		}
	})
	t.Run("SecretValues and Scrub", func(t *testing.T) {
		all := cfg.SecretValues()
		for _, v := range secretValues {
			if !slices.Contains(all, v) {
				t.Errorf("SecretValues lacks %q", v)
			}
		}
		line := "connect " + hygieneDBURL + " as " + hygieneAppName + " key=" + hygieneSecretKey + " smtp pw " + hygieneMailPW
		scrubbed := cfg.Scrub(line)
		assertNotContains(t, "scrubbed line", scrubbed, secretValues...)
		assertContains(t, "scrubbed line", scrubbed, Redacted, "connect ", " smtp pw ")
		if got := cfg.Scrub("ENV=development LOG_LEVEL=info"); got != "ENV=development LOG_LEVEL=info" {
			t.Errorf("Scrub changed plain text: %q", got)
		}
	})
	t.Run("Error", func(t *testing.T) {
		// A value the secret got wrong is named by key, never shown.
		err := loadError(t, Options{
			Getenv: env{"AWS_SECRETS_MANAGER_CONFIG": secretName}.get,
			Secrets: &fakeSecrets{payload: hygienePayload(`, "WORKER_CONCURRENCY": "lots-of-workers-7d1e",
				"ADDR": "internal-gateway-9c3b", "SESSION_STORE": "vault-store-8e2f", "MAIL_PORT": 654321,
				"BASE_URL": "gopher://intranet-5d7a", "SESSION_COOKIE_NAME": "sid cookie-3e9f"`)},
		})
		text := err.Error()
		for _, key := range []string{"WORKER_CONCURRENCY", "ADDR", "SESSION_STORE", "MAIL_PORT", "BASE_URL", "SESSION_COOKIE_NAME"} {
			if p := err.problem(t, key); p.Source != "secret:"+secretName {
				t.Errorf("%s problem source = %q, want secret:%s", key, p.Source, secretName)
			}
		}
		assertNotContains(t, "error", text, append(secretValues,
			"lots-of-workers-7d1e", "internal-gateway-9c3b", "vault-store-8e2f", "654321", "intranet-5d7a", "cookie-3e9f")...)
		// The port alone is part of the value too.
		err = loadError(t, Options{
			Getenv:  env{"AWS_SECRETS_MANAGER_CONFIG": secretName}.get,
			Secrets: &fakeSecrets{payload: `{"ADDR": "10.0.0.7:738291"}`},
		})
		assertNotContains(t, "error", err.Error(), "738291", "10.0.0.7")
	})
}

func TestEntriesRedactURLPasswordsOutsideTheSecret(t *testing.T) {
	t.Parallel()
	cfg := mustLoad(t, Options{Getenv: env{
		"DATABASE_URL":  "postgres://app:pw123456@db/app",
		"REDIS_URL":     "redis://:redis-pw-1234@cache:6379/0",
		"MAIL_PASSWORD": "smtp-password",
	}.get})
	want := map[string]string{
		"DATABASE_URL":  "postgres://app:" + Redacted + "@db/app",
		"REDIS_URL":     "redis://:" + Redacted + "@cache:6379/0",
		"MAIL_PASSWORD": Redacted,
		"SECRET_KEY":    Redacted, // generated, still never printed
	}
	for _, e := range cfg.Entries() {
		if w, ok := want[e.Key]; ok && e.Value != w {
			t.Errorf("%s printed as %q, want %q", e.Key, e.Value, w)
		}
	}
	assertNotContains(t, "Scrub", cfg.Scrub("dial postgres://app:pw123456@db/app redis-pw-1234 smtp-password"),
		"pw123456", "redis-pw-1234", "smtp-password")
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"postgres://app:pw123456@db/app", "postgres://app:" + Redacted + "@db/app"},
		{"postgres://app:pw123456@db:5432/app?sslmode=require", "postgres://app:" + Redacted + "@db:5432/app?sslmode=require"},
		{"mysql://root:p%40ss@db/app", "mysql://root:" + Redacted + "@db/app"},
		{"redis://:only-a-password@cache:6379", "redis://:" + Redacted + "@cache:6379"},
		{"postgres://app@db/app", "postgres://app@db/app"},
		{"sqlite://data/app.db", "sqlite://data/app.db"},
		{"", ""},
		{"postgres://app:pw%zz@db/app", Redacted}, // unparseable, with credentials
		{"not a url %zz", "not a url %zz"},
	} {
		got := RedactURL(tc.in)
		if got != tc.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
