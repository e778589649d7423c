package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// OIDC_PROVIDERS is the one key whose value is structured: a list of
// providers. Its raw value, like every other key's, is text: JSON, as the
// environment and the secret hold it. A YAML list in the config file is
// turned into that JSON when the file is read (jsonValue).

// errProvidersShape is the problem of a value that is not a list.
var errProvidersShape = errors.New(`must be a list of providers, like [{"name": "google", "issuer": "https://accounts.google.com", "client_id": "…", "client_secret": "…"}]`)

// providerFields are the fields a provider entry may have: its JSON names.
var providerFields = func() []string {
	t := reflect.TypeFor[OIDCProvider]()
	out := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		out = append(out, t.Field(i).Tag.Get("json"))
	}
	return out
}()

// parseProviders reads OIDC_PROVIDERS' raw value, a JSON list, and
// normalizes it: text trimmed, allowed domains lower-cased. Its errors
// never quote the value (it holds client secrets).
func parseProviders(raw string) ([]OIDCProvider, error) {
	data := []byte(strings.TrimSpace(raw))
	if len(data) == 0 || string(data) == "null" {
		return nil, nil
	}
	if data[0] != '[' {
		if data[0] == '{' {
			return nil, errProvidersShape
		}
		return nil, fmt.Errorf("not valid JSON: %s", errProvidersShape)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var list []OIDCProvider
	if err := dec.Decode(&list); err != nil {
		return nil, providersProblem(data, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("not valid JSON: unexpected text after the list")
	}
	for i := range list {
		normalizeProvider(&list[i])
	}
	return list, nil
}

// providersProblem says in one line what is wrong with the JSON, without
// quoting any value.
func providersProblem(data []byte, err error) error {
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &te):
		field := te.Field
		if i := strings.LastIndex(field, "."); i >= 0 {
			field = field[i+1:]
		}
		want := te.Type.Kind().String()
		switch te.Type.Kind() {
		case reflect.Slice:
			want = "a list"
		case reflect.Map:
			want = "an object"
		case reflect.Struct:
			want = "an object (one provider)"
		case reflect.String:
			want = "text"
		case reflect.Bool:
			want = "true or false"
		}
		kind, _, _ := strings.Cut(te.Value, " ") // "number 1e400" → "number"
		if field == "" {
			return fmt.Errorf("%s: found a %s", errProvidersShape, kind)
		}
		return fmt.Errorf("field %q must be %s, not a %s", field, want, kind)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return fmt.Errorf("unknown field %s in a provider (fields: %s)", strings.TrimPrefix(err.Error(), "json: unknown field "), strings.Join(providerFields, ", "))
	}
	return fmt.Errorf("not valid JSON: %s", jsonProblem(data, err))
}

func normalizeProvider(p *OIDCProvider) {
	for _, s := range []*string{&p.Name, &p.Label, &p.Issuer, &p.ClientID, &p.ClientSecret, &p.GroupsClaim} {
		*s = strings.TrimSpace(*s)
	}
	p.Scopes = trimAll(p.Scopes, false)
	p.AllowedDomains = trimAll(p.AllowedDomains, true)
	for role, groups := range p.Roles {
		p.Roles[role] = trimAll(groups, false)
	}
}

// trimAll trims every item, drops empty ones, and lower-cases domains
// (dropping a leading "@" too: "@example.com" means example.com).
func trimAll(items []string, domains bool) []string {
	var out []string
	for _, s := range items {
		s = strings.TrimSpace(s)
		if domains {
			s = strings.ToLower(strings.TrimPrefix(s, "@"))
		}
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// providersJSON is the inverse of parseProviders; with redact, every
// client secret is replaced by Redacted.
func providersJSON(list []OIDCProvider, redact bool) string {
	if len(list) == 0 {
		return ""
	}
	if redact {
		list = slices.Clone(list)
		for i := range list {
			if list[i].ClientSecret != "" {
				list[i].ClientSecret = Redacted
			}
		}
	}
	b, err := json.Marshal(list)
	if err != nil {
		return "" // strings, bools, lists and maps of strings always marshal
	}
	return string(b)
}

// jsonValue turns a document's value of a json-typed key into its raw
// text: a YAML list (or a JSON array) becomes JSON; a string is taken as
// JSON already (the environment's form, also fine in a file or secret).
func jsonValue(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case []any: // from a JSON document
		b, err := json.Marshal(v)
		if err != nil {
			return "", errProvidersShape
		}
		return string(b), nil
	case *yaml.Node:
		return yamlProviders(unalias(v))
	}
	return "", errProvidersShape
}

func yamlProviders(n *yaml.Node) (string, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		return yamlScalar(n)
	case yaml.SequenceNode:
	default:
		return "", errProvidersShape
	}
	for i, item := range n.Content {
		item = unalias(item)
		if item.Kind != yaml.MappingNode {
			return "", fmt.Errorf("entry %d (line %d) must be a provider (name: …, issuer: …), not a single value or a list", i+1, item.Line)
		}
		for j := 0; j+1 < len(item.Content); j += 2 {
			key := item.Content[j]
			if key.Value == "<<" {
				continue
			}
			if !slices.Contains(providerFields, key.Value) {
				return "", fmt.Errorf("unknown field %q in entry %d (line %d; fields: %s)", key.Value, i+1, key.Line, strings.Join(providerFields, ", "))
			}
		}
	}
	var list []OIDCProvider
	if err := n.Decode(&list); err != nil {
		return "", yamlProblem(err)
	}
	if len(list) == 0 {
		return "", nil
	}
	b, err := json.Marshal(list)
	if err != nil {
		return "", errProvidersShape
	}
	return string(b), nil
}

// providerName is what a provider's name may be: it appears in URLs.
var providerName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$`)

// domainName is an email domain as allowed_domains holds it.
var domainName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$`)

// Roles an OIDC provider's groups may map to.
var oidcRoles = []string{"admin", "dev", "user"}

func validateOIDC(c *Config, bad func(key, msg string, args ...any)) {
	const key = "OIDC_PROVIDERS"
	q, secret := strconv.Quote, c.sources[key].IsSecret()
	if secret {
		q = func(string) string { return "(a value from the secret)" } // never printed
	}
	seen := map[string]bool{}
	for i, p := range c.OIDCProviders {
		who := fmt.Sprintf("provider %d", i+1)
		if !providerName.MatchString(p.Name) {
			if p.Name == "" {
				bad(key, "%s: name must be set (lower-case letters, digits and dashes; it appears in URLs)", who)
			} else {
				bad(key, "%s: name %s must be lower-case letters, digits and dashes (at most 40; it appears in URLs)", who, q(p.Name))
			}
		} else {
			if !secret {
				who = "provider " + q(p.Name)
			}
			if seen[p.Name] {
				bad(key, "%s is named twice: names must be unique", who)
			}
			seen[p.Name] = true
		}
		if msg := checkIssuer(p.Issuer, q, c.Env == EnvDevelopment); msg != "" {
			bad(key, "%s: %s", who, msg)
		}
		if p.ClientID == "" {
			bad(key, "%s: client_id must be set (this site's client ID at the provider)", who)
		}
		for _, s := range p.Scopes {
			if strings.ContainsAny(s, " \t\"\\") {
				bad(key, "%s: scope %s must be one word (give each scope its own list item)", who, q(s))
			}
		}
		for _, d := range p.AllowedDomains {
			if !domainName.MatchString(d) {
				bad(key, "%s: allowed domain %s is not a domain like example.com", who, q(d))
			}
		}
		for _, role := range slices.Sorted(maps.Keys(p.Roles)) {
			if !slices.Contains(oidcRoles, role) {
				bad(key, "%s: roles may map only admin, dev and user, not %s", who, q(role))
			}
		}
		if len(p.Roles) > 0 && p.GroupsClaim == "" {
			bad(key, "%s: roles need groups_claim, the ID token claim listing the user's groups", who)
		}
		if p.GroupsClaim != "" && len(p.Roles) == 0 {
			// Roles are decided at each sign-in: without a mapping every
			// sign-in would take every role away.
			bad(key, "%s: groups_claim needs roles (which groups give admin, dev or user)", who)
		}
	}
}

// checkIssuer returns what is wrong with an issuer URL, or "".
func checkIssuer(issuer string, q func(string) string, development bool) string {
	if issuer == "" {
		return "issuer must be set (the provider's issuer URL, e.g. https://accounts.google.com)"
	}
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" || u.Opaque != "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Sprintf("issuer %s is not an absolute https:// URL", q(issuer))
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "issuer must be a plain https:// URL, without user info, query or fragment"
	}
	if u.Scheme == "http" && !development && !loopbackURL(issuer) {
		return fmt.Sprintf("issuer %s must be https:// (http:// only to a loopback address, or with ENV=development)", q(issuer))
	}
	return ""
}
