package config

import (
	"net/url"
	"strings"
)

// Redacted is printed in place of a secret value.
const Redacted = "[redacted]"

// Entry is one line of the effective configuration, safe to print.
type Entry struct {
	Key    string
	Value  string
	Source Source
}

// Entries lists every key with its effective value, redacted where it must
// not be printed, and the layer it came from.
func (c *Config) Entries() []Entry {
	out := make([]Entry, 0, len(keys))
	for _, k := range keys {
		src := c.sources[k.Name]
		out = append(out, Entry{Key: k.Name, Value: c.display(k, src), Source: src})
	}
	return out
}

func (c *Config) display(k Key, src Source) string {
	v := k.get(c)
	switch {
	case v == "":
		return ""
	case k.Sensitive || src.IsSecret():
		return Redacted
	case k.Type == "json":
		return providersJSON(c.OIDCProviders, true)
	case k.Name == "DATABASE_URL" || k.Name == "REDIS_URL" || k.Name == "CACHE_URL":
		return RedactURL(v)
	}
	return v
}

// RedactURL hides the password of a URL's user info, keeping the rest
// readable: postgres://app:[redacted]@db/app.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if strings.Contains(raw, "@") {
			return Redacted // unparseable but may hold credentials
		}
		return raw
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "REDACTED")
		return strings.Replace(u.String(), "REDACTED", Redacted, 1)
	}
	return raw
}

// Scrub replaces every secret value found in s with Redacted. It is the
// last line of defence for text that may quote configuration (log lines,
// panic messages); code should not print secrets in the first place.
func (c *Config) Scrub(s string) string {
	return ScrubAll(s, c.secrets)
}

// ScrubAll replaces every one of secrets found in s with Redacted. Values
// shorter than six bytes are left alone: words like "true" or "info" are
// too common to hide, and too short to be a credential worth hiding.
func ScrubAll(s string, secrets []string) string {
	for _, secret := range secrets {
		if len(secret) >= 6 && strings.Contains(s, secret) {
			s = strings.ReplaceAll(s, secret, Redacted)
		}
	}
	return s
}
