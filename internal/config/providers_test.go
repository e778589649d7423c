package config

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
)

const (
	oidcSecret1 = "google-client-secret-5f2a9c"
	oidcSecret2 = "entra-client-secret-\"quoted\"-7b1e"
)

var oidcYAML = `
OIDC_PROVIDERS:
  - name: google
    label: Google
    issuer: https://accounts.google.com
    client_id: 1234.apps.googleusercontent.com
    client_secret: ` + oidcSecret1 + `
    allowed_domains: [" Example.COM ", "@example.org"]
    allow_signup: yes
  - name: entra
    label: Contoso
    issuer: https://login.microsoftonline.com/0000-1111/v2.0
    client_id: 0123
    client_secret: 'entra-client-secret-"quoted"-7b1e'
    scopes: [email, profile, offline_access]
    trust_email: true
    groups_claim: groups
    roles:
      admin: [aaaa-bbbb]
      user: [cccc-dddd, eeee]
`

var oidcWant = []OIDCProvider{
	{Name: "google", Label: "Google", Issuer: "https://accounts.google.com", ClientID: "1234.apps.googleusercontent.com",
		ClientSecret: oidcSecret1, AllowedDomains: []string{"example.com", "example.org"}, AllowSignup: true},
	{Name: "entra", Label: "Contoso", Issuer: "https://login.microsoftonline.com/0000-1111/v2.0", ClientID: "0123",
		ClientSecret: oidcSecret2, Scopes: []string{"email", "profile", "offline_access"}, TrustEmail: true,
		GroupsClaim: "groups", Roles: map[string][]string{"admin": {"aaaa-bbbb"}, "user": {"cccc-dddd", "eeee"}}},
}

func TestOIDCProvidersFromAYAMLFile(t *testing.T) {
	t.Parallel()
	cfg := mustLoad(t, Options{File: writeFile(t, "config.yaml", oidcYAML)})
	if !reflect.DeepEqual(cfg.OIDCProviders, oidcWant) {
		t.Errorf("providers =\n%+v\nwant\n%+v", cfg.OIDCProviders, oidcWant)
	}
	if src := cfg.Source("OIDC_PROVIDERS"); !strings.HasPrefix(string(src), "file:") {
		t.Errorf("source = %q", src)
	}
}

func TestOIDCProvidersFromJSON(t *testing.T) {
	t.Parallel()
	raw, err := json.Marshal(oidcWant)
	if err != nil {
		t.Fatal(err)
	}
	fromEnv := mustLoad(t, Options{Getenv: env{"OIDC_PROVIDERS": string(raw)}.get})
	if !reflect.DeepEqual(fromEnv.OIDCProviders, oidcWant) {
		t.Errorf("from the environment: %+v", fromEnv.OIDCProviders)
	}
	for name, payload := range map[string]string{
		"a list":             `{"OIDC_PROVIDERS": ` + string(raw) + `}`,
		"a string with JSON": `{"OIDC_PROVIDERS": ` + strconvQuote(string(raw)) + `}`,
	} {
		cfg := mustLoad(t, Options{Getenv: env{"AWS_SECRETS_MANAGER_CONFIG": secretName}.get, Secrets: &fakeSecrets{payload: payload}})
		if !reflect.DeepEqual(cfg.OIDCProviders, oidcWant) {
			t.Errorf("from the secret as %s: %+v", name, cfg.OIDCProviders)
		}
	}
	// The environment wins over the file, as for every key.
	both := mustLoad(t, Options{File: writeFile(t, "c.yaml", oidcYAML), Getenv: env{"OIDC_PROVIDERS": `[]`}.get})
	if len(both.OIDCProviders) != 0 || both.Source("OIDC_PROVIDERS") != SourceEnv {
		t.Errorf("env [] over the file: %+v from %s", both.OIDCProviders, both.Source("OIDC_PROVIDERS"))
	}
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestOIDCClientSecretsAreNeverPrinted(t *testing.T) {
	t.Parallel()
	cfg := mustLoad(t, Options{File: writeFile(t, "config.yaml", oidcYAML)})
	var printed string
	for _, e := range cfg.Entries() {
		if e.Key == "OIDC_PROVIDERS" {
			printed = e.Value
		}
	}
	assertNotContains(t, "manage config's OIDC_PROVIDERS", printed, oidcSecret1, "entra-client-secret")
	assertContains(t, "manage config's OIDC_PROVIDERS", printed, `"client_secret":"`+Redacted+`"`, "https://accounts.google.com", `"name":"entra"`)
	for _, s := range []string{oidcSecret1, oidcSecret2} {
		if !slices.Contains(cfg.SecretValues(), s) {
			t.Errorf("SecretValues lacks the client secret %q", s)
		}
	}
	line := `token exchange with secret ` + oidcSecret1 + ` and {"client_secret":"entra-client-secret-\"quoted\"-7b1e"}`
	assertNotContains(t, "scrubbed line", cfg.Scrub(line), oidcSecret1, "entra-client-secret")
	if cfg.OIDCProviders[0].ClientSecret != oidcSecret1 {
		t.Error("showing the configuration redacted the secret in the Config itself")
	}

	// Wholly from the secret: wholly redacted, like every value there.
	raw, _ := json.Marshal(oidcWant)
	fromSecret := mustLoad(t, Options{Getenv: env{"AWS_SECRETS_MANAGER_CONFIG": secretName}.get,
		Secrets: &fakeSecrets{payload: `{"OIDC_PROVIDERS": ` + string(raw) + `}`}})
	for _, e := range fromSecret.Entries() {
		if e.Key == "OIDC_PROVIDERS" && e.Value != Redacted {
			t.Errorf("OIDC_PROVIDERS from the secret printed as %q", e.Value)
		}
	}
}

func TestOIDCProvidersParseErrorsAreOneClearLine(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct{ value, want string }{
		"bad JSON":           {`[{"name": "x", "client_secret": "s3cr3t-value-1"`, "not valid JSON"},
		"one object":         {`{"name": "x", "client_secret": "s3cr3t-value-1"}`, "must be a list of providers"},
		"not JSON":           {`name=google client_secret=s3cr3t-value-1`, "not valid JSON"},
		"unknown field":      {`[{"name": "x", "clientsecret": "s3cr3t-value-1"}]`, `unknown field "clientsecret"`},
		"a number as secret": {`[{"name": "x", "client_secret": 12345678901}]`, `field "client_secret" must be text, not a number`},
		"a list of strings":  {`["s3cr3t-value-1"]`, `must be a list of providers`},
		"text after":         {`[] x`, "after the list"},
	} {
		err := loadError(t, Options{Getenv: env{"OIDC_PROVIDERS": c.value}.get})
		p := err.problem(t, "OIDC_PROVIDERS")
		assertContains(t, name, p.Message, c.want)
		assertNotContains(t, name, err.Error(), "s3cr3t-value-1", "12345678901", "\n")
	}
}

func TestOIDCProvidersYAMLErrors(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct{ doc, want string }{
		"a mapping, not a list": {"OIDC_PROVIDERS:\n  name: google\n", "must be a list of providers"},
		"a list of names":       {"OIDC_PROVIDERS: [google, okta]\n", "entry 1 (line 1) must be a provider"},
		"unknown field":         {"OIDC_PROVIDERS:\n  - name: google\n    client-secret: s3cr3t-value-1\n", `unknown field "client-secret" in entry 1 (line 3`},
		"a list as client_id":   {"OIDC_PROVIDERS:\n  - name: google\n    client_id: [a, b]\n", "not valid YAML"},
	} {
		err := loadError(t, Options{File: writeFile(t, "c.yaml", c.doc)})
		p := err.problem(t, "APPLICATION_SETTINGS")
		assertContains(t, name, p.Message, "OIDC_PROVIDERS", c.want)
		assertNotContains(t, name, err.Error(), "s3cr3t-value-1")
	}
}

func TestOIDCProvidersValidation(t *testing.T) {
	t.Parallel()
	good := `"issuer": "https://idp.example.com", "client_id": "abc", "client_secret": "s3cr3t-value-1"`
	for name, c := range map[string]struct{ env, value, want string }{
		"no name":            {"", `[{` + good + `}]`, "provider 1: name must be set"},
		"capital name":       {"", `[{"name": "Google", ` + good + `}]`, `name "Google" must be lower-case`},
		"name with a slash":  {"", `[{"name": "a/b", ` + good + `}]`, "must be lower-case letters"},
		"twice":              {"", `[{"name": "a", ` + good + `}, {"name": "a", ` + good + `}]`, `provider "a" is named twice`},
		"no issuer":          {"", `[{"name": "a", "client_id": "x"}]`, `provider "a": issuer must be set`},
		"relative issuer":    {"", `[{"name": "a", "issuer": "idp.example.com", "client_id": "x"}]`, "is not an absolute https:// URL"},
		"ftp issuer":         {"", `[{"name": "a", "issuer": "ftp://idp.example.com", "client_id": "x"}]`, "is not an absolute https:// URL"},
		"issuer with query":  {"", `[{"name": "a", "issuer": "https://idp.example.com/?x=1", "client_id": "x"}]`, "without user info, query or fragment"},
		"http issuer (test)": {"test", `[{"name": "a", "issuer": "http://idp.example.com", "client_id": "x"}]`, "must be https://"},
		"no client_id":       {"", `[{"name": "a", "issuer": "https://idp.example.com"}]`, "client_id must be set"},
		"bad role":           {"", `[{"name": "a", ` + good + `, "groups_claim": "groups", "roles": {"root": ["x"]}}]`, `roles may map only admin, dev and user, not "root"`},
		"roles, no claim":    {"", `[{"name": "a", ` + good + `, "roles": {"admin": ["x"]}}]`, "roles need groups_claim"},
		"claim, no roles":    {"", `[{"name": "a", ` + good + `, "groups_claim": "groups"}]`, "groups_claim needs roles"},
		"bad domain":         {"", `[{"name": "a", ` + good + `, "allowed_domains": ["bob@example.com"]}]`, `allowed domain "bob@example.com" is not a domain`},
		"scope with a space": {"", `[{"name": "a", ` + good + `, "scopes": ["email profile"]}]`, "must be one word"},
	} {
		e := env{"OIDC_PROVIDERS": c.value}
		if c.env != "" {
			e["ENV"] = c.env
		}
		err := loadError(t, Options{Getenv: e.get})
		p := err.problem(t, "OIDC_PROVIDERS")
		assertContains(t, name, p.Message, c.want)
		assertNotContains(t, name, err.Error(), "s3cr3t-value-1", "\n")
	}
}

func TestOIDCIssuerOverHTTP(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ env, issuer string }{
		{"test", "http://127.0.0.1:5556"}, {"production", "http://localhost:8080/realms/x"}, {"test", "http://[::1]:9000"},
		{"development", "http://keycloak:8080/realms/dev"},
	} {
		e := env{"ENV": c.env, "OIDC_PROVIDERS": `[{"name": "a", "issuer": "` + c.issuer + `", "client_id": "x"}]`}
		cfg, err := Load(t.Context(), Options{Getenv: e.get})
		if err != nil {
			if cerr, ok := err.(*Error); !ok || slices.ContainsFunc(cerr.Problems, func(p Problem) bool { return p.Key == "OIDC_PROVIDERS" }) {
				t.Errorf("ENV=%s, issuer %s refused: %v", c.env, c.issuer, err)
			}
			continue
		}
		if cfg.OIDCProviders[0].Issuer != c.issuer {
			t.Errorf("issuer = %q", cfg.OIDCProviders[0].Issuer)
		}
	}
}

func TestOIDCProblemsFromTheSecretQuoteNothing(t *testing.T) {
	t.Parallel()
	payload := `{"OIDC_PROVIDERS": [{"name": "Internal-IdP-4c1d", "issuer": "ftp://idp-9e8f.corp", "client_id": "x", "client_secret": "s3cr3t-value-1"}]}`
	err := loadError(t, Options{Getenv: env{"AWS_SECRETS_MANAGER_CONFIG": secretName}.get, Secrets: &fakeSecrets{payload: payload}})
	if len(err.Problems) != 2 {
		t.Errorf("want the name and the issuer refused: %v", err)
	}
	assertNotContains(t, "error", err.Error(), "Internal-IdP-4c1d", "idp-9e8f", "s3cr3t-value-1")
	assertContains(t, "error", err.Error(), "provider 1:")
}
