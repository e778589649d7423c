package config

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestLoadRefusesInvalidValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env      env
		key      string
		messages []string
	}{
		{env{"ADDR": "not-an-address"}, "ADDR", []string{`"not-an-address" is not a host:port address`, "missing port"}},
		{env{"ADDR": ":99999"}, "ADDR", []string{"port"}},
		{env{"DATABASE_URL": "oracle://x"}, "DATABASE_URL", []string{`unknown scheme "oracle"`}},
		{env{"DATABASE_URL": "data/app.db"}, "DATABASE_URL", []string{"not a URL"}},
		{env{"BASE_URL": "ftp://example.com"}, "BASE_URL", []string{"not an http(s) URL"}},
		{env{"DATABASE_MAX_CONNS": "0"}, "DATABASE_MAX_CONNS", []string{"at least 1"}},
		{env{"TRUSTED_PROXIES": "10.0.0.0/8,not-a-network", "TRUSTED_PROXY_HEADER": "Forwarded"}, "TRUSTED_PROXIES", []string{`"not-a-network" is not a CIDR`}},
		{env{"TRUSTED_PROXIES": "10.0.0.0/8"}, "TRUSTED_PROXIES", []string{"needs TRUSTED_PROXY_HEADER", "X-Forwarded-For or Forwarded"}},
		{env{"TRUSTED_PROXY_HEADER": "X-Real-IP"}, "TRUSTED_PROXY_HEADER", []string{`"X-Real-IP" is not one of`}},
		{env{"REDIS_URL": "http://localhost"}, "REDIS_URL", []string{"redis://"}},
		{env{"ENV": "staging"}, "ENV", []string{`"staging" is not one of development, test, production`}},
		{env{"SESSION_STORE": "biscuit"}, "SESSION_STORE", []string{`"biscuit"`}},
		{env{"SESSION_LIFETIME": "-1h"}, "SESSION_LIFETIME", []string{"positive"}},
		{env{"SESSION_COOKIE_NAME": "my session"}, "SESSION_COOKIE_NAME", []string{"cookie name"}},
		{env{"SESSION_COOKIE_NAME": "séance"}, "SESSION_COOKIE_NAME", []string{"cookie name"}},
		{env{"SESSION_COOKIE_NAME": "a(b)"}, "SESSION_COOKIE_NAME", []string{"cookie name"}},
		{env{"WORKER_CONCURRENCY": "0"}, "WORKER_CONCURRENCY", []string{"at least 1"}},
		{env{"MAIL_PORT": "70000"}, "MAIL_PORT", []string{`"70000" is not a port`}},
		{env{"DATABASE_CONNECT_TIMEOUT": "500ms"}, "DATABASE_CONNECT_TIMEOUT", []string{"at least 1s"}},
		{env{"DATABASE_STATEMENT_TIMEOUT": "-1s"}, "DATABASE_STATEMENT_TIMEOUT", []string{"must not be negative"}},
		{env{"REQUEST_TIMEOUT": "0s"}, "REQUEST_TIMEOUT", []string{"positive"}},
		{env{"DEBUG_ADDR": "6060"}, "DEBUG_ADDR", []string{"is not a host:port address"}},
		{env{"DEBUG_ADDR": "localhost:99999"}, "DEBUG_ADDR", []string{"0 to 65535"}},
		{env{"SESSION_IDLE_TIMEOUT": "-1m"}, "SESSION_IDLE_TIMEOUT", []string{"must not be negative"}},
		{env{"SECURITY_LOG_RETENTION": "12h"}, "SECURITY_LOG_RETENTION", []string{"must be at least 24h"}},
		{env{"SECURITY_LOG_RETENTION": "0s"}, "SECURITY_LOG_RETENTION", []string{"must be at least 24h"}},
		{env{"TRUSTED_ORIGINS": "https://a.example,https://b.example/app"}, "TRUSTED_ORIGINS", []string{`"https://b.example/app" is not an origin like https://example.com`}},
		{env{"TRUSTED_ORIGINS": "b.example"}, "TRUSTED_ORIGINS", []string{`"b.example" is not an origin`}},
		{env{"METRICS_ADDR": "metrics"}, "METRICS_ADDR", []string{`"metrics" is not a host:port address`}},
		{env{"SHUTDOWN_TIMEOUT": "0s"}, "SHUTDOWN_TIMEOUT", []string{"positive"}},
		{env{"SHUTDOWN_DRAIN_DELAY": "-1s"}, "SHUTDOWN_DRAIN_DELAY", []string{"must not be negative"}},
		{env{"ADMINS": "ops@example.com,Ops <ops2@example.com>"}, "ADMINS", []string{"is not an email address like ops@example.com"}},
		{env{"SECRET_KEY": "first-half-of-a-long-secret,second-half-of-it"}, "SECRET_KEY", []string{"must not contain a comma"}},
		{env{"LOG_LEVEL": "loud"}, "LOG_LEVEL", []string{`"loud"`}},
		{env{"LOG_FORMAT": "xml"}, "LOG_FORMAT", []string{`"xml"`}},
		{env{"AWS_SECRETS_TIMEOUT": "-1s"}, "AWS_SECRETS_TIMEOUT", []string{"positive"}},
		{env{"CACHE_TYPE": "disk"}, "CACHE_TYPE", []string{`"disk" is not one of memory, redis`}},
		{env{"CACHE_URL": "http://cache"}, "CACHE_URL", []string{"redis://"}},
		{env{"CACHE_EXPIRE": "0s"}, "CACHE_EXPIRE", []string{"positive"}},
		{ldapEnv("LDAP_HOST", "http://dir.example.org"), "LDAP_HOST", []string{"ldap:// or ldaps://"}},
		{ldapEnv("LDAP_HOST", "ldap://dir.example.org:99999"), "LDAP_HOST", []string{"port"}},
		{ldapEnv("LDAP_START_TLS", "true", "LDAP_HOST", "ldaps://dir.example.org"), "LDAP_START_TLS", []string{"ldap:// hosts"}},
		{ldapEnv("LDAP_USER_BASE", "people"), "LDAP_USER_BASE", []string{`"people" is not a DN`}},
		{ldapEnv("LDAP_USERNAME_ATTRIBUTE", "uid)(cn=*"), "LDAP_USERNAME_ATTRIBUTE", []string{"not an LDAP attribute"}},
		{ldapEnv("LDAP_GROUP_OBJECT_CLASS", "group*"), "LDAP_GROUP_OBJECT_CLASS", []string{"not an LDAP attribute"}},
		{ldapEnv("LDAP_TIMEOUT", "0s"), "LDAP_TIMEOUT", []string{"positive"}},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			t.Parallel()
			err := loadError(t, Options{Getenv: tc.env.get})
			p := err.problem(t, tc.key)
			if p.Source != SourceEnv {
				t.Errorf("problem source = %q, want env", p.Source)
			}
			assertContains(t, "problem", p.Message, tc.messages...)
			assertContains(t, "error", err.Error(), tc.key+" (from env): ")
		})
	}
}

func TestLoadListsEveryProblemInOneError(t *testing.T) {
	t.Parallel()
	path := writeFile(t, "app.yaml", "LOG_LEVEL: loud\nSESSION_STORE: biscuit\n")
	err := loadError(t, Options{File: path, Getenv: env{
		"ADDR":               "not-an-address",
		"DATABASE_URL":       "oracle://x",
		"WORKER_CONCURRENCY": "ten",
	}.get})

	want := map[string]string{
		"ADDR":               "env",
		"DATABASE_URL":       "env",
		"WORKER_CONCURRENCY": "env",
		"LOG_LEVEL":          "file:" + path,
		"SESSION_STORE":      "file:" + path,
	}
	if len(err.Problems) != len(want) {
		t.Errorf("%d problems, want %d:\n%v", len(err.Problems), len(want), err)
	}
	lines := strings.Split(err.Error(), "\n")
	if lines[0] != "invalid configuration:" {
		t.Errorf("first line = %q, want a heading", lines[0])
	}
	for key, source := range want {
		found := false
		for _, line := range lines[1:] {
			if strings.HasPrefix(strings.TrimSpace(line), key+" (from "+source+"): ") {
				found = true
			}
		}
		if !found {
			t.Errorf("no line for %s from %s in:\n%v", key, source, err)
		}
	}
}

func TestLoadProduction(t *testing.T) {
	t.Parallel()
	production := func(changes env) env {
		e := env{
			"ENV":          "production",
			"SECRET_KEY":   strings.Repeat("k", 32),
			"REDIS_URL":    "redis://redis:6379/0",
			"DATABASE_URL": "postgres://app@db/app",
		}
		for k, v := range changes {
			e[k] = v
		}
		return e
	}

	t.Run("valid, with production defaults", func(t *testing.T) {
		t.Parallel()
		cfg := mustLoad(t, Options{Getenv: production(nil).get})
		if !cfg.IsProduction() || cfg.GeneratedSecretKey {
			t.Errorf("IsProduction = %v, GeneratedSecretKey = %v", cfg.IsProduction(), cfg.GeneratedSecretKey)
		}
		if cfg.LogFormat != "json" || cfg.Source("LOG_FORMAT") != SourceDefault {
			t.Errorf("LOG_FORMAT = %q from %q, want json from default", cfg.LogFormat, cfg.Source("LOG_FORMAT"))
		}
		if cfg.AutoMigrate || cfg.Source("AUTO_MIGRATE") != SourceDefault {
			t.Errorf("AUTO_MIGRATE = %v from %q, want false from default", cfg.AutoMigrate, cfg.Source("AUTO_MIGRATE"))
		}
	})
	t.Run("production defaults give way to set values", func(t *testing.T) {
		t.Parallel()
		cfg := mustLoad(t, Options{Getenv: production(env{"LOG_FORMAT": "text", "AUTO_MIGRATE": "true"}).get})
		if cfg.LogFormat != "text" || !cfg.AutoMigrate {
			t.Errorf("LOG_FORMAT = %q, AUTO_MIGRATE = %v; want the values set in env", cfg.LogFormat, cfg.AutoMigrate)
		}
	})
	t.Run("development defaults", func(t *testing.T) {
		t.Parallel()
		cfg := mustLoad(t, Options{})
		if cfg.IsProduction() || cfg.LogFormat != "text" || !cfg.AutoMigrate {
			t.Errorf("IsProduction = %v, LOG_FORMAT = %q, AUTO_MIGRATE = %v", cfg.IsProduction(), cfg.LogFormat, cfg.AutoMigrate)
		}
	})
	t.Run("SQLite allowed when asked", func(t *testing.T) {
		t.Parallel()
		cfg := mustLoad(t, Options{Getenv: production(env{"DATABASE_URL": "sqlite://data/app.db", "ALLOW_SQLITE_IN_PRODUCTION": "true"}).get})
		if cfg.DatabaseURL != "sqlite://data/app.db" {
			t.Errorf("DATABASE_URL = %q", cfg.DatabaseURL)
		}
	})

	refused := []struct {
		name   string
		env    env
		key    string
		source Source
		says   string
	}{
		{"without SECRET_KEY", production(env{"SECRET_KEY": ""}), "SECRET_KEY", SourceDefault, "at least 32 bytes"},
		{"with a short SECRET_KEY", production(env{"SECRET_KEY": strings.Repeat("k", 31)}), "SECRET_KEY", SourceEnv, "at least 32 bytes"},
		{"with a short older key", production(env{"SECRET_KEY_FALLBACKS": strings.Repeat("o", 32) + ",short"}), "SECRET_KEY_FALLBACKS", SourceEnv, "each older key to be at least 32 bytes"},
		{"without REDIS_URL", production(env{"REDIS_URL": ""}), "REDIS_URL", SourceDefault, "Redis"},
		{"with SQLite", production(env{"DATABASE_URL": "sqlite://data/app.db"}), "DATABASE_URL", SourceEnv, "ALLOW_SQLITE_IN_PRODUCTION"},
		{"with the default SQLite", production(env{"DATABASE_URL": ""}), "DATABASE_URL", SourceDefault, "ALLOW_SQLITE_IN_PRODUCTION"},
		{"with SQLite and ALLOW_SQLITE_IN_PRODUCTION=false", production(env{"DATABASE_URL": "sqlite://x.db", "ALLOW_SQLITE_IN_PRODUCTION": "false"}), "DATABASE_URL", SourceEnv, "ALLOW_SQLITE_IN_PRODUCTION"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := loadError(t, Options{Getenv: tc.env.get})
			p := err.problem(t, tc.key)
			if p.Source != tc.source {
				t.Errorf("problem source = %q, want %q", p.Source, tc.source)
			}
			assertContains(t, "problem", p.Message, "ENV=production", tc.says)
			if len(err.Problems) != 1 {
				t.Errorf("want only the %s problem, got:\n%v", tc.key, err)
			}
		})
	}

	t.Run("every production problem at once", func(t *testing.T) {
		t.Parallel()
		err := loadError(t, Options{Getenv: env{"ENV": "production"}.get})
		for _, key := range []string{"SECRET_KEY", "REDIS_URL", "DATABASE_URL"} {
			err.problem(t, key)
		}
		assertNotContains(t, "short-key error", loadError(t, Options{Getenv: production(env{"SECRET_KEY": "tooshort-but-secret"}).get}).Error(), "tooshort-but-secret")
	})
}

// ldapEnv is a valid directory sign-in configuration with the pairs of
// keys and values kv changed.
func ldapEnv(kv ...string) env {
	e := env{
		"USER_LDAP": "true", "LDAP_HOST": "ldap.example.org",
		"LDAP_BIND_DN": "cn=reader,dc=example,dc=org", "LDAP_BIND_PASSWORD": "reader-secret",
		"LDAP_USER_BASE": "ou=people,dc=example,dc=org", "LDAP_GROUP_BASE": "ou=groups,dc=example,dc=org",
	}
	for i := 0; i+1 < len(kv); i += 2 {
		e[kv[i]] = kv[i+1]
		if kv[i+1] == "" {
			delete(e, kv[i])
		}
	}
	return e
}

func TestAValidDirectoryConfigurationLoads(t *testing.T) {
	t.Parallel()
	for _, host := range []string{"ldap.example.org", "ldap.example.org:10389", "ldap://ldap.example.org", "ldaps://ldap.example.org:636"} {
		if _, err := Load(context.Background(), Options{Getenv: ldapEnv("LDAP_HOST", host).get}); err != nil {
			t.Errorf("LDAP_HOST=%s: %v", host, err)
		}
	}
	for host, want := range map[string]string{
		"ldap.example.org":             "ldap://ldap.example.org:389",
		"ldap.example.org:10389":       "ldap://ldap.example.org:10389",
		"ldaps://ldap.example.org":     "ldaps://ldap.example.org:636",
		" ldap://[::1]:1389/ ":         "ldap://[::1]:1389",
		"ldaps://ldap.example.org:636": "ldaps://ldap.example.org:636",
	} {
		if got, err := LDAPURL(host); err != nil || got != want {
			t.Errorf("LDAPURL(%q) = %q, %v; want %q", host, got, err, want)
		}
	}
	// Active Directory's nested-group matching rule is an attribute too.
	if _, err := Load(context.Background(), Options{Getenv: ldapEnv("LDAP_GROUP_ATTRIBUTE", "member:1.2.840.113556.1.4.1941:").get}); err != nil {
		t.Error(err)
	}
	// The LDAP keys are checked only with USER_LDAP on.
	if _, err := Load(context.Background(), Options{Getenv: env{"LDAP_HOST": "http://nowhere"}.get}); err != nil {
		t.Errorf("USER_LDAP off: %v", err)
	}
}

func TestDirectorySignInNeedsItsKeys(t *testing.T) {
	t.Parallel()
	for key, message := range map[string]string{
		"LDAP_HOST":          "must be set with USER_LDAP=true",
		"LDAP_USER_BASE":     "must be set with USER_LDAP=true",
		"LDAP_GROUP_BASE":    "must be set with USER_LDAP=true",
		"LDAP_BIND_PASSWORD": "must be set with LDAP_BIND_DN",
	} {
		err := loadError(t, Options{Getenv: ldapEnv(key, "").get})
		assertContains(t, key, err.problem(t, key).Message, message)
	}
}

func TestProductionRefusesDirectoryPasswordsInClear(t *testing.T) {
	t.Parallel()
	production := func(kv ...string) env {
		e := ldapEnv(kv...)
		e["ENV"] = "production"
		return e
	}
	err := loadError(t, Options{Getenv: production("LDAP_HOST", "ldap.example.org").get})
	assertContains(t, "plain ldap:// in production", err.problem(t, "LDAP_HOST").Message, "ldaps:// or LDAP_START_TLS=true")
	for _, e := range []env{
		production("LDAP_HOST", "ldaps://ldap.example.org"),
		production("LDAP_START_TLS", "true"),
		production("LDAP_HOST", "ldap://127.0.0.1:3389"),
		ldapEnv("LDAP_HOST", "ldap.example.org"), // development
	} {
		_, err := Load(context.Background(), Options{Getenv: e.get})
		var cerr *Error
		if errors.As(err, &cerr) {
			for _, p := range cerr.Problems {
				if strings.HasPrefix(p.Key, "LDAP_") {
					t.Errorf("LDAP_HOST=%s START_TLS=%s ENV=%s: %v", e["LDAP_HOST"], e["LDAP_START_TLS"], e["ENV"], p)
				}
			}
		}
	}
}

// s3Env is a valid S3 storage configuration with the pairs of keys and
// values kv changed (an empty value unsets the key).
func s3Env(kv ...string) env {
	e := env{"STORAGE_BACKEND": "s3", "S3_BUCKET": "launchkit-uploads"}
	for i := 0; i+1 < len(kv); i += 2 {
		e[kv[i]] = kv[i+1]
		if kv[i+1] == "" {
			delete(e, kv[i])
		}
	}
	return e
}

func TestAValidStorageConfigurationLoads(t *testing.T) {
	t.Parallel()
	for _, e := range []env{
		{},
		{"STORAGE_BACKEND": "local", "STORAGE_DIR": "/var/lib/app/uploads", "UPLOAD_MAX_BYTES": "1"},
		s3Env(),
		s3Env("S3_REGION", "eu-west-1", "S3_PREFIX", "launchkit/", "UPLOAD_MAX_BYTES", "5368709120"),
		{"UPLOAD_MAX_BYTES": "5368709121"},
		s3Env("S3_BUCKET", "my.bucket-1", "S3_ENDPOINT", "http://127.0.0.1:9000", "S3_PREFIX", "apps/launchkit"),
		s3Env("S3_ENDPOINT", "https://0123abcd.r2.cloudflarestorage.com", "S3_REGION", "auto"),
		s3Env("S3_ENDPOINT", "https://s3.us-west-004.backblazeb2.com/", "S3_REGION", "us-west-004"),
	} {
		cfg, err := Load(context.Background(), Options{Getenv: e.get})
		if err != nil {
			t.Errorf("%v: %v", e, err)
			continue
		}
		if len(e) == 0 && (cfg.StorageBackend != "local" || cfg.StorageDir != "data/uploads" || cfg.UploadMaxBytes != 10<<20) {
			t.Errorf("defaults: %q, %q, %d", cfg.StorageBackend, cfg.StorageDir, cfg.UploadMaxBytes)
		}
	}
}

func TestLoadRefusesInvalidStorageKeys(t *testing.T) {
	t.Parallel()
	const password = "hunter2-s3cr3t"
	tests := []struct {
		name     string
		env      env
		key      string
		messages []string
	}{
		{"unknown backend", env{"STORAGE_BACKEND": "gcs"}, "STORAGE_BACKEND", []string{`"gcs" is not one of local, s3`}},
		{"upper-case backend", env{"STORAGE_BACKEND": "S3"}, "STORAGE_BACKEND", []string{"is not one of local, s3"}},
		{"no directory", env{"STORAGE_DIR": " "}, "STORAGE_DIR", []string{"must be set when STORAGE_BACKEND is local"}},
		{"no upload size", env{"UPLOAD_MAX_BYTES": "0"}, "UPLOAD_MAX_BYTES", []string{"at least 1 byte"}},
		{"negative upload size", env{"UPLOAD_MAX_BYTES": "-5"}, "UPLOAD_MAX_BYTES", []string{"at least 1 byte"}},
		{"upload size in words", env{"UPLOAD_MAX_BYTES": "10MB"}, "UPLOAD_MAX_BYTES", []string{"10MB"}},
		{"s3 upload past one PutObject", s3Env("UPLOAD_MAX_BYTES", "5368709121"), "UPLOAD_MAX_BYTES", []string{"at most 5 GiB"}},
		{"s3 without a bucket", s3Env("S3_BUCKET", ""), "S3_BUCKET", []string{"must be set when STORAGE_BACKEND is s3"}},
		{"upper-case bucket", s3Env("S3_BUCKET", "MyBucket"), "S3_BUCKET", []string{`"MyBucket" is not a bucket name`}},
		{"short bucket", s3Env("S3_BUCKET", "ab"), "S3_BUCKET", []string{"is not a bucket name"}},
		{"bucket with a slash", s3Env("S3_BUCKET", "bucket/key"), "S3_BUCKET", []string{"is not a bucket name"}},
		{"bucket ending in a hyphen", s3Env("S3_BUCKET", "bucket-"), "S3_BUCKET", []string{"is not a bucket name"}},
		{"endpoint without a scheme", s3Env("S3_ENDPOINT", "minio.example.com:9000"), "S3_ENDPOINT", []string{"is not a URL like https://"}},
		{"endpoint of another scheme", s3Env("S3_ENDPOINT", "ftp://minio.example.com"), "S3_ENDPOINT", []string{"is not a URL like https://"}},
		{"endpoint without a host", s3Env("S3_ENDPOINT", "https:///bucket"), "S3_ENDPOINT", []string{"is not a URL like https://"}},
		{"endpoint with a query", s3Env("S3_ENDPOINT", "https://minio.example.com/?region=x"), "S3_ENDPOINT", []string{"is not a URL like https://"}},
		{"endpoint with user info", s3Env("S3_ENDPOINT", "https://minio:"+password+"@minio.example.com"), "S3_ENDPOINT", []string{"is not a URL like https://"}},
		{"region with spaces", s3Env("S3_REGION", "eu west 1"), "S3_REGION", []string{`"eu west 1" is not a region name`}},
		{"region in capitals", s3Env("S3_REGION", "EU-WEST-1"), "S3_REGION", []string{"is not a region name"}},
		{"prefix from the root", s3Env("S3_PREFIX", "/x"), "S3_PREFIX", []string{`"/x" is not a key prefix`}},
		{"prefix going up", s3Env("S3_PREFIX", "../x"), "S3_PREFIX", []string{"is not a key prefix"}},
		{"prefix going up inside", s3Env("S3_PREFIX", "a/../b"), "S3_PREFIX", []string{"is not a key prefix"}},
		{"prefix with an empty element", s3Env("S3_PREFIX", "a//b"), "S3_PREFIX", []string{"is not a key prefix"}},
		{"prefix with a space", s3Env("S3_PREFIX", "my app/"), "S3_PREFIX", []string{"is not a key prefix"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := loadError(t, Options{Getenv: tc.env.get})
			p := err.problem(t, tc.key)
			assertContains(t, "problem", p.Message, tc.messages...)
			if len(err.Problems) != 1 {
				t.Errorf("want only the %s problem, got:\n%v", tc.key, err)
			}
			assertNotContains(t, "error", err.Error(), password)
		})
	}
}

// TestStorageEndpointProblemsNeverShowASecret: an S3_ENDPOINT carrying a
// password (in its user info, or a query) is refused without printing it,
// wherever it came from.
func TestStorageEndpointProblemsNeverShowASecret(t *testing.T) {
	t.Parallel()
	const secret = "wJalrXUtnFEMI-K7MDENG"
	for _, endpoint := range []string{
		"https://AKIDEXAMPLE:" + secret + "@minio.example.com:9000",
		"http://user:" + secret + "@127.0.0.1:9000/",
		"https://minio.example.com/?X-Amz-Signature=" + secret,
		"https://minio.example.com/?secret=" + secret,
		"minio:" + secret + "@minio.example.com",
		"https://minio.example.com:" + secret,
		"https://minio.example.com/#" + secret,
	} {
		err := loadError(t, Options{Getenv: s3Env("S3_ENDPOINT", endpoint).get})
		err.problem(t, "S3_ENDPOINT")
		assertNotContains(t, "error", err.Error(), secret)
	}
}

// TestSentryDSNIsCheckedWithoutBeingQuoted: a SENTRY_DSN the Sentry SDK
// would refuse stops start-up with what is wrong, and the message never
// holds the DSN (a secret: its key lets anyone post to the project);
// a good one, or none, loads.
func TestSentryDSNIsCheckedWithoutBeingQuoted(t *testing.T) {
	t.Parallel()
	for dsn, want := range map[string]string{
		"sentry.example.com/1":                      "not an http:// or https:// URL",
		"ftp://k3y@sentry.example.com/1":            "not an http:// or https:// URL",
		"https://sentry.example.com/1":              "lacks the public key",
		"https://k3y@/1":                            "lacks a host",
		"https://k3y@sentry.example.com":            "lacks the project ID",
		"https://k3y@sentry.example.com/":           "lacks the project ID",
		"https://k3y@sentry.example.com/1?x=secret": "must not have a query",
		"https://k3y@sentry.example.com:port/1":     "not a URL",
		"https://k3y@sentry.exa mple.com/1":         "not a URL",
	} {
		err := loadError(t, Options{Getenv: env{"SENTRY_DSN": dsn}.get})
		assertContains(t, "problem", err.problem(t, "SENTRY_DSN").Message, want, "https://PUBLIC_KEY@host/PROJECT_ID")
		if strings.Contains(err.Error(), "k3y") || strings.Contains(err.Error(), "sentry.example.com") {
			t.Errorf("the error quotes the DSN: %v", err)
		}
	}
	for _, dsn := range []string{"", "https://k3y@o1.ingest.sentry.io/42", "http://k3y@127.0.0.1:9000/api/1", "https://k3y:old-secret@glitchtip.example.com/7"} {
		cfg, err := Load(context.Background(), Options{Getenv: env{"SENTRY_DSN": dsn}.get})
		if err != nil {
			t.Errorf("SENTRY_DSN %q: %v", dsn, err)
			continue
		}
		if got := cfg.Entries(); dsn != "" && !slicesContainsEntry(got, "SENTRY_DSN", Redacted) {
			t.Errorf("manage config shows SENTRY_DSN unredacted")
		}
	}
}

func slicesContainsEntry(entries []Entry, key, value string) bool {
	for _, e := range entries {
		if e.Key == key {
			return e.Value == value
		}
	}
	return false
}
