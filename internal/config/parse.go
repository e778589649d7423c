package config

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

var errNotObject = errors.New("not a JSON/YAML object of KEY: value pairs")

// parseDocument reads a JSON or YAML object of configuration keys. Values
// may be strings, numbers, booleans or lists of those (joined with commas);
// nested objects are refused. Unknown keys come back as warnings.
//
// Values keep the text they were written with, exactly as an environment
// variable would: YAML's own typing would turn MAIL_PASSWORD: 0123 into
// "83" and a long numeric SECRET_KEY into a rounded float, and would
// quote the value in its error when a tag did not fit.
func parseDocument(data []byte, f format) (map[string]string, []string, error) {
	if f == formatAuto {
		f = formatYAML
		if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && trimmed[0] == '{' {
			f = formatJSON
		}
	}
	var obj map[string]any
	var err error
	if f == formatJSON {
		obj, err = decodeJSON(data)
	} else {
		obj, err = decodeYAML(data)
	}
	if err != nil {
		return nil, nil, err
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
		scalarOf := scalar
		if keyIndex[name].Type == "json" {
			scalarOf = jsonValue
		}
		v, err := scalarOf(obj[name])
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %v", name, err)
		}
		values[name] = v
	}
	return values, warnings, nil
}

// decodeJSON returns the document's object; nil for an empty document.
func decodeJSON(data []byte) (map[string]any, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil // an empty file sets nothing
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("not valid JSON: %s", jsonProblem(data, err))
	}
	// More() would let a stray "}" or "]" after the object through.
	end := int(dec.InputOffset())
	if _, err := dec.Token(); err != io.EOF {
		rest := len(data) - len(bytes.TrimLeft(data[end:], " \t\r\n"))
		return nil, fmt.Errorf("not valid JSON: unexpected text after the object (%s)", lineCol(data, rest))
	}
	switch doc := doc.(type) {
	case map[string]any:
		return doc, nil
	case nil:
		return nil, nil // null sets nothing
	}
	return nil, errNotObject
}

// decodeYAML returns the document's mapping with each value as its
// *yaml.Node; nil for an empty document.
func decodeYAML(data []byte) (map[string]any, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil // an empty file sets nothing
		}
		return nil, yamlProblem(err)
	}
	for {
		var next yaml.Node
		err := dec.Decode(&next)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, yamlProblem(err)
		}
		if !isNull(documentValue(&next)) { // a trailing "---" is harmless
			return nil, errors.New("not valid YAML: more than one document (---); put every key in one")
		}
	}
	doc := documentValue(&root)
	if isNull(doc) {
		return nil, nil
	}
	if doc.Kind != yaml.MappingNode {
		return nil, errNotObject
	}
	var fields map[string]yaml.Node // decoding to a map applies merge keys (<<) and refuses duplicates
	if err := doc.Decode(&fields); err != nil {
		return nil, yamlProblem(err)
	}
	obj := make(map[string]any, len(fields))
	for name, node := range fields {
		obj[name] = &node
	}
	return obj, nil
}

func documentValue(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil
		}
		return n.Content[0]
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

func yamlProblem(err error) error {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msg = strings.Join(te.Errors, "; ")
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	if strings.HasPrefix(msg, "unknown anchor") {
		// The parser's message quotes the text after the "*": often a
		// password that happens to start with one.
		msg = "a value starting with * is read as a reference to an anchor (&name) that does not exist; put quotes around the value"
	}
	return fmt.Errorf("not valid YAML: %s", msg)
}

func scalar(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case json.Number:
		return v.String(), nil
	case *yaml.Node:
		return yamlScalar(v)
	case []any:
		items := make([]string, len(v))
		for i, item := range v {
			if _, nested := item.([]any); nested {
				return "", errListItem
			}
			s, err := scalar(item)
			if err != nil || strings.Contains(s, ",") {
				return "", errListItem
			}
			items[i] = s
		}
		return strings.Join(items, ","), nil
	}
	return "", errNotPlain
}

var (
	errListItem = errors.New("a list may hold only plain values without commas")
	errNotPlain = errors.New("must be a plain value (text, number, boolean) or a list, not an object")
)

func yamlScalar(n *yaml.Node) (string, error) {
	n = unalias(n)
	switch n.Kind {
	case yaml.ScalarNode:
		switch tag := n.ShortTag(); {
		case tag == "!!null":
			return "", nil
		case tag == "!!binary":
			b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(n.Value), ""))
			if err != nil {
				return "", errors.New("a !!binary value must be base64")
			}
			return string(b), nil
		case !strings.HasPrefix(tag, "!!"):
			// Not quoting the tag: it is usually a password starting with "!".
			return "", errors.New("a value starting with ! is read as a YAML tag; put quotes around the value")
		}
		return n.Value, nil
	case yaml.SequenceNode:
		items := make([]string, len(n.Content))
		for i, item := range n.Content {
			item = unalias(item)
			if item.Kind != yaml.ScalarNode {
				return "", errListItem
			}
			s, err := yamlScalar(item)
			if err != nil || strings.Contains(s, ",") {
				return "", errListItem
			}
			items[i] = s
		}
		return strings.Join(items, ","), nil
	}
	return "", errNotPlain
}

// unalias follows *alias references to the anchored node.
func unalias(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
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
		// Offset counts the offending byte itself.
		return fmt.Sprintf("%v (%s)", syn, lineCol(data, int(syn.Offset)-1))
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Sprintf("unexpected end of input (%s)", lineCol(data, len(data)))
	}
	return err.Error()
}

// lineCol describes the position of data[offset], counting from 1.
func lineCol(data []byte, offset int) string {
	offset = max(0, min(offset, len(data)))
	line, col := 1, 1
	for _, b := range data[:offset] {
		if b == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return fmt.Sprintf("line %d, column %d", line, col)
}
