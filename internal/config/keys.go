package config

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Key describes one configuration key, read from Config's struct tags.
type Key struct {
	Name              string
	Type              string // string, bool, int, duration, list or json (OIDC_PROVIDERS)
	Default           string
	ProductionDefault string // empty when the same as Default
	Help              string
	Sensitive         bool

	field int
}

// Keys lists every configuration key in declaration order. The slice is
// the caller's own: changing it cannot change what Load reads.
func Keys() []Key { return slices.Clone(keys) }

var keys = readKeys()

var keyIndex = func() map[string]Key {
	m := make(map[string]Key, len(keys))
	for _, k := range keys {
		m[k.Name] = k
	}
	return m
}()

func readKeys() []Key {
	t := reflect.TypeFor[Config]()
	var out []Key
	for i := range t.NumField() {
		f := t.Field(i)
		name := f.Tag.Get("key")
		if name == "" || name == "-" {
			continue
		}
		k := Key{
			Name:              name,
			Type:              typeName(f.Type),
			Default:           f.Tag.Get("default"),
			ProductionDefault: f.Tag.Get("production"),
			Help:              f.Tag.Get("help"),
			Sensitive:         f.Tag.Get("sensitive") == "true" || sensitiveName(name),
			field:             i,
		}
		out = append(out, k)
	}
	return out
}

func typeName(t reflect.Type) string {
	switch {
	case t == reflect.TypeFor[time.Duration]():
		return "duration"
	case t == reflect.TypeFor[[]OIDCProvider]():
		return "json"
	case t.Kind() == reflect.Bool:
		return "bool"
	case t.Kind() == reflect.Int:
		return "int"
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		return "list"
	case t.Kind() == reflect.String:
		return "string"
	}
	panic("config: unsupported field type " + t.String()) // a programming error, caught by any test
}

// sensitiveName reports whether a key's name marks its value as a secret.
func sensitiveName(name string) bool {
	for _, suffix := range []string{"_PASSWORD", "_KEY", "_SECRET", "_TOKEN"} {
		if strings.HasSuffix(name, suffix) {
			return true
		}
	}
	return false
}

// set parses raw as the key's type and stores it in c.
func (k Key) set(c *Config, raw string) error {
	v := reflect.ValueOf(c).Elem().Field(k.field)
	raw = strings.TrimSpace(raw)
	switch k.Type {
	case "string":
		v.SetString(raw)
	case "bool":
		b, err := parseBool(raw)
		if err != nil {
			return err
		}
		v.SetBool(b)
	case "int":
		n, err := strconv.Atoi(raw)
		if err != nil {
			return fmt.Errorf("not a whole number")
		}
		v.SetInt(int64(n))
	case "duration":
		d, err := parseDuration(raw)
		if err != nil {
			return err
		}
		v.SetInt(int64(d))
	case "list":
		var items []string
		for item := range strings.SplitSeq(raw, ",") {
			if item = strings.TrimSpace(item); item != "" {
				items = append(items, item)
			}
		}
		v.Set(reflect.ValueOf(items))
	case "json":
		providers, err := parseProviders(raw)
		if err != nil {
			return err
		}
		v.Set(reflect.ValueOf(providers))
	}
	return nil
}

// get returns the key's value in c as text, the inverse of set.
func (k Key) get(c *Config) string {
	v := reflect.ValueOf(c).Elem().Field(k.field)
	switch k.Type {
	case "bool":
		return strconv.FormatBool(v.Bool())
	case "int":
		return strconv.FormatInt(v.Int(), 10)
	case "duration":
		return time.Duration(v.Int()).String()
	case "list":
		return strings.Join(v.Interface().([]string), ",")
	case "json":
		return providersJSON(v.Interface().([]OIDCProvider), false)
	}
	return v.String()
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "true", "1", "yes", "on":
		return true, nil
	case "false", "0", "no", "off", "":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean (use true/false, 1/0 or yes/no)")
}

func parseDuration(s string) (time.Duration, error) {
	if s == "" || s == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("not a duration (use a number with a unit, like 90s, 15m or 24h)")
	}
	return d, nil
}
