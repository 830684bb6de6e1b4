// Package configtest builds AWS Config configuration items for tests from the property schemas
// AWS publishes for Config (awslabs/aws-config-resource-schema, copied to testdata/): every
// property a test sets must be one the schema lists, with a value of the schema's type, so test
// items cannot drift from what Config records.
package configtest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Schema is a resource type's property list: dotted path (arrays unmarked) → type name.
type Schema struct {
	ResourceType string
	Props        map[string]string
}

// LoadSchema reads testdata/aws-config-resource-schema/<type with :: as _>.properties.json
// from the repository root dir.
func LoadSchema(root, resourceType string) (*Schema, error) {
	p := filepath.Join(root, "testdata", "aws-config-resource-schema", strings.ReplaceAll(resourceType, "::", "_")+".properties.json")
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("read schema %q: %w", p, err)
	}
	s := &Schema{ResourceType: resourceType}
	if err := json.Unmarshal(b, &s.Props); err != nil {
		return nil, fmt.Errorf("parse schema %q: %w", p, err)
	}
	return s, nil
}

var indexRE = regexp.MustCompile(`\[(\d+)\]`)

// Build returns a configuration item (1.3 field names, as in snapshot and history files) of the
// schema's resource type with the given properties. A property path is the schema's dotted path
// with array indexes where the value is an array element: "configuration.instances[0].instanceId".
// Every path must be in the schema and its value of the schema's type (string, integer, float,
// boolean); "tags.<key>" sets a tag. Item-level fields such as configurationItemCaptureTime are
// set the same way (they are in the schema too).
func (s *Schema) Build(props map[string]any) (map[string]any, error) {
	item := map[string]any{"resourceType": s.ResourceType}
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, path := range keys {
		v := props[path]
		if tag, ok := strings.CutPrefix(path, "tags."); ok && !strings.Contains(tag, ".") && tag != "key" && tag != "value" && tag != "tag" {
			if _, ok := s.Props["tags.key"]; !ok {
				return nil, fmt.Errorf("%s: schema has no tags", s.ResourceType)
			}
			tags, _ := item["tags"].(map[string]any)
			if tags == nil {
				tags = map[string]any{}
				item["tags"] = tags
			}
			tags[tag] = v
			continue
		}
		plain := indexRE.ReplaceAllString(path, "")
		typ, ok := s.Props[plain]
		if !ok {
			return nil, fmt.Errorf("%s: property %q is not in the schema", s.ResourceType, plain)
		}
		if err := checkType(typ, v); err != nil {
			return nil, fmt.Errorf("%s: property %q: %v", s.ResourceType, plain, err)
		}
		if plain == "version" { // the schema's name for configurationItemVersion
			path = "configurationItemVersion"
		}
		if err := set(item, path, v); err != nil {
			return nil, fmt.Errorf("%s: property %q: %v", s.ResourceType, path, err)
		}
	}
	return item, nil
}

func checkType(typ string, v any) error {
	ok := false
	switch typ {
	case "string", "date":
		_, ok = v.(string)
	case "integer":
		_, ok = v.(int)
	case "float":
		switch v.(type) {
		case float64, int:
			ok = true
		}
	case "boolean":
		_, ok = v.(bool)
	default:
		ok = true
	}
	if !ok {
		return fmt.Errorf("value %v (%T) is not of schema type %s", v, v, typ)
	}
	return nil
}

// set assigns v at a dotted path with optional [i] indexes, creating objects and arrays.
func set(root map[string]any, path string, v any) error {
	parts := strings.Split(path, ".")
	var cur any = root
	for i, p := range parts {
		last := i == len(parts)-1
		name, idx := p, -1
		if m := indexRE.FindStringSubmatchIndex(p); m != nil {
			name = p[:m[0]]
			idx, _ = strconv.Atoi(p[m[2]:m[3]])
		}
		obj, ok := cur.(map[string]any)
		if !ok {
			return fmt.Errorf("%s is not an object", name)
		}
		if idx < 0 {
			if last {
				obj[name] = v
				return nil
			}
			next, _ := obj[name].(map[string]any)
			if next == nil {
				next = map[string]any{}
				obj[name] = next
			}
			cur = next
			continue
		}
		arr, _ := obj[name].([]any)
		for len(arr) <= idx {
			arr = append(arr, map[string]any{})
		}
		obj[name] = arr
		if last {
			arr[idx] = v
			return nil
		}
		cur = arr[idx]
	}
	return nil
}
