package docs_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/launchkit/launchkit/internal/config"
)

const ssoGuide = "single-sign-on.md"

// TestSingleSignOnPresetsAreValidConfig: each YAML example of the guide
// (one per preset) loads as a configuration, and the JSON example loads
// from the secret.
func TestSingleSignOnPresetsAreValidConfig(t *testing.T) {
	blocks := blocksOf(fencedBlocks(t, ssoGuide), "yaml")
	issuers := map[string]bool{}
	for _, b := range blocks {
		path := filepath.Join(t.TempDir(), "launchkit.yaml")
		if err := os.WriteFile(path, []byte(b.body), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(t.Context(), config.Options{File: path, Getenv: func(string) string { return "" }})
		if err != nil {
			t.Errorf("%s:%d: %v", ssoGuide, b.line, err)
			continue
		}
		if len(cfg.Warnings) > 0 || len(cfg.OIDCProviders) != 1 {
			t.Errorf("%s:%d: warnings %q, %d providers", ssoGuide, b.line, cfg.Warnings, len(cfg.OIDCProviders))
			continue
		}
		issuers[cfg.OIDCProviders[0].Issuer] = true
	}
	for _, want := range []string{
		"https://accounts.google.com", "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/v2.0",
		"https://example.okta.com", "https://sso.example.com/realms/staff", "https://example.eu.auth0.com/",
	} {
		if !issuers[want] {
			t.Errorf("%s has no valid preset with issuer %s", ssoGuide, want)
		}
	}

	jsons := blocksOf(fencedBlocks(t, ssoGuide), "json")
	if len(jsons) == 0 {
		t.Fatalf("%s has no JSON example for the secret", ssoGuide)
	}
	for _, b := range jsons {
		cfg, err := config.Load(t.Context(), config.Options{
			Getenv: func(k string) string {
				return map[string]string{"AWS_SECRETS_MANAGER_CONFIG": "launchkit/production"}[k]
			},
			Secrets: payload(b.body),
		})
		if err != nil || len(cfg.OIDCProviders) == 0 {
			t.Errorf("%s:%d: the secret example does not load: %v", ssoGuide, b.line, err)
		}
	}
}

type payload string

func (p payload) FetchSecret(context.Context, config.SecretRequest) ([]byte, error) {
	return []byte(p), nil
}

// TestSingleSignOnGuideNamesTheRealRedirectURL keeps the guide's
// redirect URL the one internal/sso builds.
func TestSingleSignOnGuideNamesTheRealRedirectURL(t *testing.T) {
	data, err := os.ReadFile(ssoGuide)
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("../internal/sso/sso.go")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "BASE_URL/user/sso/NAME/callback") || !strings.Contains(string(src), `"/user/sso/" + url.PathEscape(pc.Name) + "/callback"`) {
		t.Error("the guide's redirect URL and internal/sso's differ")
	}
}
