package notepack

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Normalize converts v into the JSON-shaped tree that Encode and Stringify accept, following
// the rules encoding/json uses to write v, so a Node peer receives the same keys and values
// as a Go client reading the JSON form:
//
//   - json.Marshaler and encoding.TextMarshaler values are called; a Marshaler's output is
//     parsed back, keeping its key order.
//   - Struct fields use their json tags (names, "-", omitempty, omitzero, string) and keep
//     declaration order; fields of embedded structs are promoted as encoding/json does.
//   - Map keys are sorted, because Go maps have no order and encoding/json sorts them too.
//   - In every object, array-index keys ("0", "17") move to the front in numeric order, as in
//     a JS object.
//   - []byte stays binary ([]byte in the tree) instead of becoming base64. Byte arrays become
//     arrays of numbers, as in encoding/json.
//   - Integers become int64 (uint64 above math.MaxInt64) with every digit kept, where a JS
//     number would round past 2^53. float32 values become the float64 with the same decimal
//     form. NaN and infinities are kept, although encoding/json rejects them.
//   - Strings with invalid UTF-8 get U+FFFD for each invalid byte.
//
// Channels, functions and complex numbers are rejected with an error.
func Normalize(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	n := normalizer{}
	return n.value(reflect.ValueOf(v), false, 0)
}

var (
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

type normalizer struct{}

func (n normalizer) value(rv reflect.Value, quoted bool, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf(
			"notepack: value nested deeper than %d levels, possibly a pointer cycle", maxDepth)
	}
	if !rv.IsValid() {
		return nil, nil
	}
	if out, ok, err := n.marshaled(rv); ok {
		return out, err
	}
	switch rv.Kind() {
	case reflect.Bool:
		if quoted {
			return strconv.FormatBool(rv.Bool()), nil
		}
		return rv.Bool(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if quoted {
			return strconv.FormatInt(rv.Int(), 10), nil
		}
		return rv.Int(), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Uintptr:
		return uintValue(rv.Uint(), quoted), nil
	case reflect.Float32, reflect.Float64:
		f := rv.Float()
		if rv.Kind() == reflect.Float32 {
			f = float32To64(float32(f))
		}
		if quoted {
			return jsNumber(f), nil
		}
		return f, nil
	case reflect.String:
		s := validUTF8(rv.String())
		if quoted {
			b, err := Stringify(s)
			return string(b), err
		}
		return s, nil
	case reflect.Interface, reflect.Pointer:
		if rv.IsNil() {
			return nil, nil
		}
		return n.value(rv.Elem(), quoted, depth+1)
	case reflect.Slice:
		if rv.IsNil() {
			return nil, nil
		}
		if isBinary(rv.Type()) {
			return bytes.Clone(rv.Bytes()), nil
		}
		return n.list(rv, depth)
	case reflect.Array:
		return n.list(rv, depth)
	case reflect.Map:
		return n.mapValue(rv, depth)
	case reflect.Struct:
		return n.structValue(rv, depth)
	}
	return nil, fmt.Errorf("notepack: cannot normalize a value of type %s", rv.Type())
}

func uintValue(u uint64, quoted bool) any {
	switch {
	case quoted:
		return strconv.FormatUint(u, 10)
	case u > math.MaxInt64:
		return u
	default:
		return int64(u)
	}
}

// marshaled calls MarshalJSON or MarshalText when rv implements them, as encoding/json does:
// a pointer-receiver method only when rv is addressable, and null for a nil pointer.
func (n normalizer) marshaled(rv reflect.Value) (any, bool, error) {
	t := rv.Type()
	target := rv
	switch {
	case t.Implements(marshalerType), t.Implements(textMarshalerType):
	case t.Kind() != reflect.Pointer && rv.CanAddr() &&
		(reflect.PointerTo(t).Implements(marshalerType) ||
			reflect.PointerTo(t).Implements(textMarshalerType)):
		target = rv.Addr()
	default:
		return nil, false, nil
	}
	if (target.Kind() == reflect.Pointer || target.Kind() == reflect.Interface) &&
		target.IsNil() {
		return nil, true, nil
	}
	if m, ok := target.Interface().(json.Marshaler); ok {
		raw, err := m.MarshalJSON()
		if err != nil {
			return nil, true, fmt.Errorf("notepack: MarshalJSON of %s failed: %w", t, err)
		}
		out, err := ParseJSON(raw)
		if err != nil {
			return nil, true, fmt.Errorf("notepack: MarshalJSON of %s failed: %w", t, err)
		}
		return out, true, nil
	}
	text, err := target.Interface().(encoding.TextMarshaler).MarshalText()
	if err != nil {
		return nil, true, fmt.Errorf("notepack: MarshalText of %s failed: %w", t, err)
	}
	return validUTF8(string(text)), true, nil
}

// isBinary reports whether a slice type is written as binary: a byte slice whose element type
// has no marshaling method of its own (encoding/json makes the same exception for base64).
func isBinary(t reflect.Type) bool {
	elem := t.Elem()
	if elem.Kind() != reflect.Uint8 {
		return false
	}
	p := reflect.PointerTo(elem)
	return !p.Implements(marshalerType) && !p.Implements(textMarshalerType)
}

func (n normalizer) list(rv reflect.Value, depth int) (any, error) {
	out := make([]any, rv.Len())
	for i := range out {
		v, err := n.value(rv.Index(i), false, depth+1)
		if err != nil {
			return nil, fmt.Errorf("index %d: %w", i, err)
		}
		out[i] = v
	}
	return out, nil
}

func (n normalizer) mapValue(rv reflect.Value, depth int) (any, error) {
	if rv.IsNil() {
		return nil, nil
	}
	m := make(map[string]any, rv.Len())
	iter := rv.MapRange()
	for iter.Next() {
		key, err := mapKey(iter.Key())
		if err != nil {
			return nil, err
		}
		v, err := n.value(iter.Value(), false, depth+1)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", key, err)
		}
		m[key] = v
	}
	return sortedMap(m), nil
}

// mapKey returns the JSON object key encoding/json writes for a map key.
func mapKey(k reflect.Value) (string, error) {
	if k.Kind() == reflect.String {
		return validUTF8(k.String()), nil
	}
	if tm, ok := k.Interface().(encoding.TextMarshaler); ok {
		if k.Kind() == reflect.Pointer && k.IsNil() {
			return "", nil
		}
		text, err := tm.MarshalText()
		if err != nil {
			return "", fmt.Errorf("notepack: MarshalText of map key %s failed: %w", k.Type(), err)
		}
		return validUTF8(string(text)), nil
	}
	switch k.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(k.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Uintptr:
		return strconv.FormatUint(k.Uint(), 10), nil
	}
	return "", fmt.Errorf("notepack: unsupported map key type %s", k.Type())
}

func (n normalizer) structValue(rv reflect.Value, depth int) (any, error) {
	fields := structFields(rv.Type())
	out := make(Map, 0, len(fields))
	for _, f := range fields {
		fv, ok := fieldByIndex(rv, f.index)
		if !ok {
			continue // behind a nil embedded pointer
		}
		if (f.omitEmpty && isEmpty(fv)) || (f.omitZero && isZero(fv)) {
			continue
		}
		v, err := n.value(fv, f.quoted, depth+1)
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", f.name, err)
		}
		out = append(out, Pair{Key: f.name, Value: v})
	}
	return jsPropertyOrder(out), nil
}

func fieldByIndex(rv reflect.Value, index []int) (reflect.Value, bool) {
	for i, x := range index {
		if i > 0 && rv.Kind() == reflect.Pointer {
			if rv.IsNil() {
				return reflect.Value{}, false
			}
			rv = rv.Elem()
		}
		rv = rv.Field(x)
	}
	return rv, true
}

func isEmpty(rv reflect.Value) bool {
	switch rv.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return rv.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Uintptr, reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return rv.IsZero()
	}
	return false
}

type zeroer interface{ IsZero() bool }

// isZero applies omitzero: an IsZero method when the type has one, else the zero value.
func isZero(rv reflect.Value) bool {
	if (rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface) && rv.IsNil() {
		return true
	}
	if z, ok := rv.Interface().(zeroer); ok {
		return z.IsZero()
	}
	if rv.CanAddr() {
		if z, ok := rv.Addr().Interface().(zeroer); ok {
			return z.IsZero()
		}
	}
	return rv.IsZero()
}

func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		b.WriteRune(r) // RuneError for each invalid byte, as encoding/json writes
		i += size
	}
	return b.String()
}

// ParseJSON parses one JSON value into a tree. Objects become Map with keys in JS property
// order, and a repeated key keeps its first position and its last value, as in JSON.parse.
// Integers that fit int64 or uint64 keep every digit; other numbers become float64.
func ParseJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := parseJSONValue(dec)
	if err != nil {
		return nil, fmt.Errorf("parse JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("parse JSON: data after the value")
	}
	return v, nil
}

func parseJSONValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch x := tok.(type) {
	case json.Delim:
		if x == '[' {
			list := []any{}
			for dec.More() {
				v, err := parseJSONValue(dec)
				if err != nil {
					return nil, err
				}
				list = append(list, v)
			}
			_, err := dec.Token()
			return list, err
		}
		return parseJSONObject(dec)
	case json.Number:
		return jsonNumber(x)
	default:
		return x, nil // string, bool or nil
	}
}

func parseJSONObject(dec *json.Decoder) (any, error) {
	m := Map{}
	pos := map[string]int{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		v, err := parseJSONValue(dec)
		if err != nil {
			return nil, err
		}
		if i, ok := pos[key]; ok {
			m[i].Value = v
			continue
		}
		pos[key] = len(m)
		m = append(m, Pair{Key: key, Value: v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	return jsPropertyOrder(m), nil
}

func jsonNumber(num json.Number) (any, error) {
	if i, err := strconv.ParseInt(string(num), 10, 64); err == nil {
		return i, nil
	}
	if u, err := strconv.ParseUint(string(num), 10, 64); err == nil {
		return u, nil
	}
	f, err := strconv.ParseFloat(string(num), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return nil, fmt.Errorf("invalid number %s: %w", num, err)
	}
	return f, nil // out of range is ±Inf, as JSON.parse returns
}
