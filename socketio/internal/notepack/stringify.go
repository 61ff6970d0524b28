package notepack

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Stringify returns the JSON text that JSON.stringify writes for the JS equivalent of the
// JSON-shaped value v: no HTML escaping and no spaces, numbers in JS notation (1e+21, 1e-7),
// null for NaN and infinities, []byte as {"type":"Buffer","data":[...]} (Buffer.toJSON), and
// time.Time as an ISO string in UTC with milliseconds (Date.toJSON).
func Stringify(v any) ([]byte, error) {
	return appendJSON(nil, v)
}

func appendJSON(dst []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case bool:
		return strconv.AppendBool(dst, x), nil
	case string:
		return appendJSONString(dst, x), nil
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int8:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int16:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int32:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case uint:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint8:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint16:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint32:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint64:
		return strconv.AppendUint(dst, x, 10), nil
	case float32:
		return appendJSONFloat(dst, float32To64(x)), nil
	case float64:
		return appendJSONFloat(dst, x), nil
	case []byte:
		dst = append(dst, `{"type":"Buffer","data":[`...)
		for i, b := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = strconv.AppendUint(dst, uint64(b), 10)
		}
		return append(dst, "]}"...), nil
	case time.Time:
		// NOTE: JS writes years outside 0000-9999 as +YYYYYY or -YYYYYY; this layout does not.
		return appendJSONString(dst, x.UTC().Format("2006-01-02T15:04:05.000Z")), nil
	case []any:
		return appendJSONArray(dst, x)
	case Map:
		return appendJSONObject(dst, x)
	case map[string]any:
		return appendJSONObject(dst, sortedMap(x))
	default:
		return nil, fmt.Errorf("notepack: cannot stringify %T, normalize the value first", v)
	}
}

func appendJSONArray(dst []byte, items []any) ([]byte, error) {
	dst = append(dst, '[')
	var err error
	for i, item := range items {
		if i > 0 {
			dst = append(dst, ',')
		}
		if dst, err = appendJSON(dst, item); err != nil {
			return nil, err
		}
	}
	return append(dst, ']'), nil
}

func appendJSONObject(dst []byte, m Map) ([]byte, error) {
	dst = append(dst, '{')
	var err error
	for i, p := range m {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, p.Key)
		dst = append(dst, ':')
		if dst, err = appendJSON(dst, p.Value); err != nil {
			return nil, fmt.Errorf("key %q: %w", p.Key, err)
		}
	}
	return append(dst, '}'), nil
}

func appendJSONFloat(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	return append(dst, jsNumber(f)...)
}

// jsNumber formats a finite f as JS Number.prototype.toString does: the shortest digits that
// round-trip, plain notation from 1e-6 up to 1e21, exponent notation outside, "0" for -0.
func jsNumber(f float64) string {
	if f == 0 {
		return "0"
	}
	abs := math.Abs(f)
	if abs >= 1e-6 && abs < 1e21 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	s := strconv.FormatFloat(f, 'e', -1, 64) // e.g. 1e+21, 1.5e-07
	mantissa, exp, _ := strings.Cut(s, "e")
	sign, digits := exp[:1], strings.TrimLeft(exp[1:], "0")
	return mantissa + "e" + sign + digits
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s as JSON.stringify does: it escapes only the quote, the backslash
// and control characters below U+0020, and writes U+FFFD for invalid UTF-8.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			dst = utf8.AppendRune(dst, r)
			i += size
			continue
		}
		switch c {
		case '"':
			dst = append(dst, `\"`...)
		case '\\':
			dst = append(dst, `\\`...)
		case '\b':
			dst = append(dst, `\b`...)
		case '\f':
			dst = append(dst, `\f`...)
		case '\n':
			dst = append(dst, `\n`...)
		case '\r':
			dst = append(dst, `\r`...)
		case '\t':
			dst = append(dst, `\t`...)
		default:
			if c < 0x20 {
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			} else {
				dst = append(dst, c)
			}
		}
		i++
	}
	return append(dst, '"')
}
