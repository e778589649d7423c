package config

import (
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestKeys(t *testing.T) {
	t.Parallel()
	upperSnake := regexp.MustCompile(`^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$`)
	seen := map[string]bool{}
	for _, k := range Keys() {
		if !upperSnake.MatchString(k.Name) {
			t.Errorf("%s is not UPPER_SNAKE_CASE", k.Name)
		}
		if seen[k.Name] {
			t.Errorf("%s is declared twice", k.Name)
		}
		seen[k.Name] = true
		if strings.TrimSpace(k.Help) == "" {
			t.Errorf("%s has no help", k.Name)
		}
		if !slices.Contains([]string{"string", "bool", "int", "duration", "list", "json"}, k.Type) {
			t.Errorf("%s has type %q", k.Name, k.Type)
		}
		for _, def := range []string{k.Default, k.ProductionDefault} {
			if def == "" && def != k.Default {
				continue // no production default: the default applies
			}
			if err := k.set(&Config{}, def); err != nil {
				t.Errorf("%s: default %q is not a %s: %v", k.Name, def, k.Type, err)
			}
		}
		for _, suffix := range []string{"_PASSWORD", "_KEY", "_SECRET", "_TOKEN"} {
			if strings.HasSuffix(k.Name, suffix) && !k.Sensitive {
				t.Errorf("%s is not marked sensitive", k.Name)
			}
		}
	}
	for _, name := range []string{"ENV", "APP_NAME", "ADDR", "BASE_URL", "SECRET_KEY", "DATABASE_URL", "REDIS_URL",
		"SESSION_STORE", "SESSION_LIFETIME", "SESSION_IDLE_TIMEOUT", "SESSION_COOKIE_NAME", "WORKER_CONCURRENCY",
		"DISABLE_SCHEDULER", "MAIL_SERVER", "MAIL_PORT", "MAIL_USERNAME", "MAIL_PASSWORD", "MAIL_DEFAULT_SENDER",
		"MAIL_OUTBOX_DIR", "USER_ENABLE_REGISTER", "USER_REQUIRE_CONFIRMED_EMAIL", "LOG_LEVEL", "LOG_FORMAT",
		"AWS_SECRETS_MANAGER_CONFIG", "AWS_SECRETS_REGION"} {
		if !seen[name] {
			t.Errorf("the contract's key %s is missing", name)
		}
	}
	if !keyIndex["MAIL_PASSWORD"].Sensitive || !keyIndex["SECRET_KEY"].Sensitive || keyIndex["MAIL_USERNAME"].Sensitive {
		t.Error("sensitivity of MAIL_PASSWORD, SECRET_KEY or MAIL_USERNAME is wrong")
	}
}

func TestKeysCoverEveryField(t *testing.T) {
	t.Parallel()
	tagged := 0
	typ := reflect.TypeFor[Config]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if tag, ok := f.Tag.Lookup("key"); ok && tag != "-" {
			tagged++
		} else if f.IsExported() && !ok {
			t.Errorf("exported field %s has no key tag (use key:\"-\" for fields that are not keys)", f.Name)
		}
	}
	if len(Keys()) != tagged {
		t.Errorf("Keys() has %d keys, Config has %d key fields", len(Keys()), tagged)
	}
}

func TestKeysDefaultsAreValid(t *testing.T) {
	t.Parallel()
	cfg := mustLoad(t, Options{})
	for _, k := range Keys() {
		if got := cfg.Source(k.Name); got != SourceDefault {
			t.Errorf("Source(%s) = %q with no layers, want default", k.Name, got)
		}
		if k.Type != "duration" && k.Name != "SECRET_KEY" && k.get(cfg) != k.Default {
			t.Errorf("%s = %q, want its default %q", k.Name, k.get(cfg), k.Default)
		}
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("warnings with no layers: %q", cfg.Warnings)
	}
}

func TestKeysReturnsACopy(t *testing.T) {
	t.Parallel()
	list := Keys()
	list[0].Name, list[0].Default = "CHANGED", "changed"
	if Keys()[0].Name == "CHANGED" {
		t.Error("changing the slice Keys returned changed the package's keys")
	}
}
