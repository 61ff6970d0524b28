package queues

import (
	"fmt"
	"strings"
)

// Schema describes a job payload: the subset of JSON Schema that the contracts export as
// JSON Schema (draft 2020-12) and as TypeScript types.
type Schema struct {
	// Type is "object", "string", "integer", "number", "boolean" or "array".
	Type string
	// Nullable also allows null.
	Nullable bool
	// Description documents the value.
	Description string
	// Format is a JSON Schema string format, such as "uuid".
	Format string
	// MinLength is the minimum length of a string. Zero means no minimum.
	MinLength int
	// Properties are the fields of an object, in the order the contracts list them.
	Properties []Property
	// Items describes the elements of an array.
	Items *Schema
}

// Property is one field of an object schema.
type Property struct {
	Name     string
	Required bool
	Schema   Schema
}

// JSONSchema returns s as a JSON Schema value, ready for encoding/json. Objects allow
// additional properties, because handlers ignore unknown fields so that the Node app can
// add fields before the workers read them.
func (s Schema) JSONSchema() map[string]any {
	out := map[string]any{}
	if s.Nullable {
		out["type"] = []string{s.Type, "null"}
	} else {
		out["type"] = s.Type
	}
	if s.Description != "" {
		out["description"] = s.Description
	}
	if s.Format != "" {
		out["format"] = s.Format
	}
	if s.MinLength > 0 {
		out["minLength"] = s.MinLength
	}
	if s.Items != nil {
		out["items"] = s.Items.JSONSchema()
	}
	if s.Type == "object" {
		props := map[string]any{}
		required := []string{}
		for _, p := range s.Properties {
			props[p.Name] = p.Schema.JSONSchema()
			if p.Required {
				required = append(required, p.Name)
			}
		}
		out["properties"] = props
		out["required"] = required
		out["additionalProperties"] = true
	}
	return out
}

// TypeScript returns s as a TypeScript type expression. Nested lines are indented by
// indent plus two spaces per level.
func (s Schema) TypeScript(indent string) string {
	var t string
	switch s.Type {
	case "object":
		if len(s.Properties) == 0 {
			t = "Record<string, unknown>"
			break
		}
		var b strings.Builder
		b.WriteString("{\n")
		for _, p := range s.Properties {
			if p.Schema.Description != "" {
				fmt.Fprintf(&b, "%s  /** %s */\n", indent, p.Schema.Description)
			}
			optional := "?"
			if p.Required {
				optional = ""
			}
			fmt.Fprintf(&b, "%s  %s%s: %s;\n", indent, tsPropertyName(p.Name), optional,
				p.Schema.TypeScript(indent+"  "))
		}
		b.WriteString(indent + "}")
		t = b.String()
	case "string":
		t = "string"
	case "integer", "number":
		t = "number"
	case "boolean":
		t = "boolean"
	case "array":
		item := "unknown"
		if s.Items != nil {
			item = s.Items.TypeScript(indent)
		}
		t = "Array<" + item + ">"
	default:
		t = "unknown"
	}
	if s.Nullable {
		t += " | null"
	}
	return t
}

// tsPropertyName quotes a property name that is not a plain identifier.
func tsPropertyName(name string) string {
	for i, r := range name {
		ok := r == '_' || r == '$' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') ||
			(i > 0 && r >= '0' && r <= '9')
		if !ok {
			return fmt.Sprintf("%q", name)
		}
	}
	return name
}
