package config

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
)

// Source names the layer a value came from: "default", "file:<path>",
// "secret:<name>" or "env".
type Source string

// SourceDefault and SourceEnv are the two layers without a name.
const (
	SourceDefault Source = "default"
	SourceEnv     Source = "env"
)

func fileSource(path string) Source   { return Source("file:" + path) }
func secretSource(name string) Source { return Source("secret:" + name) }

// IsSecret reports whether the value came from the secret layer.
func (s Source) IsSecret() bool { return strings.HasPrefix(string(s), "secret:") }

// Options are the inputs of Load besides the built-in defaults.
type Options struct {
	// Getenv reads the environment; an empty value counts as unset.
	Getenv func(string) string
	// File is the config file from the -config flag; when empty,
	// APPLICATION_SETTINGS names it.
	File string
	// Secrets fetches the secret layer. When nil and a secret is
	// configured, Load fails rather than start without it.
	Secrets SecretFetcher
}

// layer is one set of raw values, all from one source.
type layer struct {
	source Source
	values map[string]string
}

// Load builds the effective configuration from the four layers and
// validates it. Every problem found is reported together in one *Error.
func Load(ctx context.Context, opts Options) (*Config, error) {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	var warnings []string
	var problems Problems

	env := layer{source: SourceEnv, values: map[string]string{}}
	for _, k := range keys {
		if v := getenv(k.Name); v != "" {
			env.values[k.Name] = v
		}
	}

	layers := []layer{}
	path, pathSource := opts.File, Source("flag -config")
	if path == "" {
		path, pathSource = getenv("APPLICATION_SETTINGS"), SourceEnv
	}
	if path != "" {
		file := layer{source: fileSource(path)}
		data, err := os.ReadFile(path)
		if err != nil {
			problems.add("APPLICATION_SETTINGS", pathSource, "cannot read config file: "+plainFileError(err))
		} else if values, warns, err := parseDocument(data, formatOf(path)); err != nil {
			problems.add("APPLICATION_SETTINGS", file.source, err.Error())
		} else {
			file.values = values
			warnings = append(warnings, prefixAll(warns, file.source)...)
			layers = append(layers, file)
		}
	}

	// The secret's own settings come from the file and the environment.
	pre := merge(append(slices.Clone(layers), env))
	if name := pre["AWS_SECRETS_MANAGER_CONFIG"].value; name != "" {
		secret, warns, err := loadSecret(ctx, opts.Secrets, pre)
		if err != nil {
			problems.add("AWS_SECRETS_MANAGER_CONFIG", pre["AWS_SECRETS_MANAGER_CONFIG"].source, err.Error())
		} else {
			warnings = append(warnings, prefixAll(warns, secret.source)...)
			layers = append(layers, secret)
		}
	}
	layers = append(layers, env)
	effective := merge(layers)

	cfg := &Config{sources: map[string]Source{}}
	unparsed := map[string]bool{}
	production := strings.TrimSpace(strings.ToLower(effective["ENV"].value)) == EnvProduction
	for _, k := range keys {
		v, ok := effective[k.Name]
		if !ok {
			v = sourced{value: k.Default, source: SourceDefault}
			if production && k.ProductionDefault != "" {
				v.value = k.ProductionDefault
			}
		}
		cfg.sources[k.Name] = v.source
		if err := k.set(cfg, v.value); err != nil {
			problems.add(k.Name, v.source, quoteUnlessSensitive(k, v, err))
			unparsed[k.Name] = true
			continue
		}
		if v.source.IsSecret() || (k.Sensitive && v.value != "") {
			cfg.secrets = append(cfg.secrets, v.value)
			if k.Type == "list" { // each item may be printed on its own
				for item := range strings.SplitSeq(v.value, ",") {
					if item = strings.TrimSpace(item); item != "" {
						cfg.secrets = append(cfg.secrets, item)
					}
				}
			}
		}
		if k.Type == "json" {
			for _, p := range cfg.OIDCProviders {
				cfg.secrets = appendSecret(cfg.secrets, p.ClientSecret)
			}
		}
		if u, err := url.Parse(v.value); err == nil && u.User != nil {
			if pw, ok := u.User.Password(); ok && pw != "" {
				cfg.secrets = append(cfg.secrets, pw, url.QueryEscape(pw))
			}
		}
	}
	for _, p := range validate(cfg) {
		// A key that did not parse holds its zero value; judging that
		// would add a second, misleading problem ("0 is not a port").
		if !unparsed[p.Key] {
			problems = append(problems, p)
		}
	}
	if len(problems) > 0 {
		return nil, &Error{Problems: problems}
	}

	if cfg.SecretKey == "" && !cfg.IsProduction() {
		cfg.SecretKey = randomKey()
		cfg.GeneratedSecretKey = true
		cfg.secrets = append(cfg.secrets, cfg.SecretKey)
	}
	cfg.Warnings = warnings
	return cfg, nil
}

// sourced is a raw value with the layer it came from.
type sourced struct {
	value  string
	source Source
}

// merge overlays layers in order, later wins.
func merge(layers []layer) map[string]sourced {
	out := map[string]sourced{}
	for _, l := range layers {
		for k, v := range l.values {
			if _, known := keyIndex[k]; known {
				out[k] = sourced{value: v, source: l.source}
			}
		}
	}
	return out
}

func loadSecret(ctx context.Context, fetcher SecretFetcher, pre map[string]sourced) (layer, []string, error) {
	// The secret's settings are parsed here, before the rest, because
	// they decide what the rest is.
	tmp := &Config{}
	for _, name := range []string{"AWS_SECRETS_MANAGER_CONFIG", "AWS_SECRETS_REGION", "AWS_SECRETS_VERSION_STAGE", "AWS_SECRETS_VERSION_ID", "AWS_SECRETS_TIMEOUT"} {
		k := keyIndex[name]
		v, ok := pre[name]
		if !ok {
			v.value = k.Default
		}
		if err := k.set(tmp, v.value); err != nil {
			return layer{}, nil, fmt.Errorf("%s: %v", name, err)
		}
	}
	name := tmp.AWSSecretsManagerConfig
	if fetcher == nil {
		return layer{}, nil, fmt.Errorf("secret %q: this program has no secret source configured", name)
	}
	timeout := tmp.AWSSecretsTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	data, err := fetcher.FetchSecret(ctx, SecretRequest{
		Name:         name,
		Region:       tmp.AWSSecretsRegion,
		VersionStage: tmp.AWSSecretsVersionStage,
		VersionID:    tmp.AWSSecretsVersionID,
	})
	if err != nil {
		// Only our own deadline is a time-out; a cancelled start-up is not.
		if errors.Is(ctx.Err(), context.DeadlineExceeded) && !strings.Contains(err.Error(), "timed out") {
			return layer{}, nil, fmt.Errorf("secret %q: timed out after %s: %v", name, timeout, err)
		}
		return layer{}, nil, fmt.Errorf("secret %q: %v", name, err)
	}
	values, warns, err := parseDocument(data, formatAuto)
	if err != nil {
		return layer{}, nil, fmt.Errorf("secret %q: %v", name, err)
	}
	// The secret was already chosen with these; dropping them keeps the
	// effective config (and `manage config`) saying what was really used.
	for _, k := range slices.Sorted(maps.Keys(values)) {
		if strings.HasPrefix(k, "AWS_SECRETS_") {
			warns = append(warns, fmt.Sprintf("%s has no effect inside the secret itself", k))
			delete(values, k)
		}
	}
	return layer{source: secretSource(name), values: values}, warns, nil
}

func prefixAll(warns []string, src Source) []string {
	out := make([]string, len(warns))
	for i, w := range warns {
		out[i] = fmt.Sprintf("%s: %s", src, w)
	}
	return out
}

// appendSecret adds a secret found inside a structured value, also as
// JSON would escape it.
func appendSecret(secrets []string, s string) []string {
	if s == "" {
		return secrets
	}
	secrets = append(secrets, s)
	if b, err := json.Marshal(s); err == nil && string(b[1:len(b)-1]) != s {
		secrets = append(secrets, string(b[1:len(b)-1]))
	}
	return secrets
}

func quoteUnlessSensitive(k Key, v sourced, err error) string {
	// A json value (OIDC_PROVIDERS) holds client secrets: never quoted.
	if k.Sensitive || k.Type == "json" || v.source.IsSecret() {
		return err.Error()
	}
	return fmt.Sprintf("%q: %v", v.value, err)
}

func plainFileError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Sprintf("%s: %v", pe.Path, pe.Err)
	}
	return err.Error()
}

func randomKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}
