package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

type format int

const (
	formatAuto format = iota
	formatJSON
	formatYAML
)

func formatOf(path string) format {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		return formatJSON
	case ".yaml", ".yml":
		return formatYAML
	}
	return formatAuto
}

// parseDocument reads a JSON or YAML object of configuration keys. Values
// may be strings, numbers, booleans or lists of those (joined with commas);
// nested objects are refused. Unknown keys come back as warnings.
func parseDocument(data []byte, f format) (map[string]string, []string, error) {
	if f == formatAuto {
		f = formatYAML
		if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && trimmed[0] == '{' {
			f = formatJSON
		}
	}
	var doc any
	switch f {
	case formatJSON:
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil {
			return nil, nil, fmt.Errorf("not valid JSON: %s", jsonProblem(data, err))
		}
		if dec.More() {
			return nil, nil, errors.New("not valid JSON: more than one value")
		}
	default:
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return nil, nil, fmt.Errorf("not valid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		}
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		if doc == nil {
			return map[string]string{}, nil, nil // an empty file sets nothing
		}
		return nil, nil, errors.New("not a JSON/YAML object of KEY: value pairs")
	}

	values := make(map[string]string, len(obj))
	var warnings []string
	names := make([]string, 0, len(obj))
	for name := range obj {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if _, known := keyIndex[name]; !known {
			warnings = append(warnings, unknownKey(name))
			continue
		}
		v, err := scalar(obj[name])
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %v", name, err)
		}
		values[name] = v
	}
	return values, warnings, nil
}

func scalar(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case int:
		return strconv.Itoa(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case uint64:
		return strconv.FormatUint(v, 10), nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case json.Number:
		return v.String(), nil
	case []any:
		items := make([]string, len(v))
		for i, item := range v {
			s, err := scalar(item)
			if err != nil || strings.Contains(s, ",") {
				return "", errors.New("a list may hold only plain values without commas")
			}
			items[i] = s
		}
		return strings.Join(items, ","), nil
	}
	return "", errors.New("must be a plain value (text, number, boolean) or a list, not an object")
}

func unknownKey(name string) string {
	hint := strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
	if _, known := keyIndex[hint]; known && hint != name {
		return fmt.Sprintf("unknown key %q ignored (did you mean %s?)", name, hint)
	}
	return fmt.Sprintf("unknown key %q ignored", name)
}

// jsonProblem turns a decoder error into a line and column.
func jsonProblem(data []byte, err error) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		line, col := 1, 1
		for _, b := range data[:min(int(syn.Offset), len(data))] {
			if b == '\n' {
				line, col = line+1, 1
			} else {
				col++
			}
		}
		return fmt.Sprintf("%v (line %d, column %d)", syn, line, col)
	}
	return err.Error()
}
