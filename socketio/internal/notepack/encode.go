// Package notepack encodes and decodes MessagePack the way notepack.io 3.0.1 does, the codec
// that @socket.io/redis-adapter and @socket.io/redis-emitter use on Redis.
//
// Encode takes a JSON-shaped value tree (nil, bool, string, []byte, integers, floats, []any,
// Map, map[string]any, time.Time) and writes the bytes notepack.io writes for the same JS
// value: the smallest integer form for every whole number (float64 included), float64 for
// fractions, NaN and infinities, and the smallest str, bin, array and map headers. Normalize
// turns arbitrary Go values into such a tree the way encoding/json presents them, keeping
// []byte as binary. Stringify writes a tree as JSON.stringify would, and Decode reads any
// MessagePack that notepack.io reads.
//
//	tree, err := notepack.Normalize(payload)
//	if err != nil {
//		return err
//	}
//	msg, err := notepack.Encode([]any{"emitter", tree})
package notepack

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"
)

// Map is a map whose entries are encoded in slice order, like the properties of a JS object.
// Encode and Stringify keep the order as given; Normalize already puts integer-like keys
// first, as a JS object would.
type Map []Pair

// Pair is one entry of a Map.
type Pair struct {
	Key   string
	Value any
}

// Encode returns the MessagePack encoding of the JSON-shaped value v.
func Encode(v any) ([]byte, error) {
	return AppendEncode(nil, v)
}

// AppendEncode appends the MessagePack encoding of the JSON-shaped value v to dst.
func AppendEncode(dst []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, 0xc0), nil
	case bool:
		if x {
			return append(dst, 0xc3), nil
		}
		return append(dst, 0xc2), nil
	case string:
		return appendString(dst, x), nil
	case []byte:
		return appendBinary(dst, x), nil
	case int:
		return appendInt(dst, int64(x)), nil
	case int8:
		return appendInt(dst, int64(x)), nil
	case int16:
		return appendInt(dst, int64(x)), nil
	case int32:
		return appendInt(dst, int64(x)), nil
	case int64:
		return appendInt(dst, x), nil
	case uint:
		return appendUint(dst, uint64(x)), nil
	case uint8:
		return appendUint(dst, uint64(x)), nil
	case uint16:
		return appendUint(dst, uint64(x)), nil
	case uint32:
		return appendUint(dst, uint64(x)), nil
	case uint64:
		return appendUint(dst, x), nil
	case float32:
		return appendFloat(dst, float32To64(x)), nil
	case float64:
		return appendFloat(dst, x), nil
	case time.Time:
		return appendTime(dst, x), nil
	case []any:
		return appendArray(dst, x)
	case Map:
		return appendMap(dst, x)
	case map[string]any:
		return appendMap(dst, sortedMap(x))
	default:
		return nil, fmt.Errorf("notepack: cannot encode %T, normalize the value first", v)
	}
}

func appendArray(dst []byte, items []any) ([]byte, error) {
	dst = appendHeader(dst, len(items), 0x90, 0x10, 0xdc, 0xdd)
	var err error
	for _, item := range items {
		if dst, err = AppendEncode(dst, item); err != nil {
			return nil, err
		}
	}
	return dst, nil
}

func appendMap(dst []byte, m Map) ([]byte, error) {
	dst = appendHeader(dst, len(m), 0x80, 0x10, 0xde, 0xdf)
	var err error
	for _, p := range m {
		dst = appendString(dst, p.Key)
		if dst, err = AppendEncode(dst, p.Value); err != nil {
			return nil, fmt.Errorf("key %q: %w", p.Key, err)
		}
	}
	return dst, nil
}

// appendHeader writes an array or map header: the fix form below fixLimit, else 16 or 32 bits.
func appendHeader(dst []byte, n int, fix byte, fixLimit int, code16, code32 byte) []byte {
	switch {
	case n < fixLimit:
		return append(dst, fix|byte(n))
	case n < 1<<16:
		return binary.BigEndian.AppendUint16(append(dst, code16), uint16(n))
	default:
		return binary.BigEndian.AppendUint32(append(dst, code32), uint32(n))
	}
}

func appendString(dst []byte, s string) []byte {
	n := len(s)
	switch {
	case n < 32:
		dst = append(dst, 0xa0|byte(n))
	case n < 1<<8:
		dst = append(dst, 0xd9, byte(n))
	case n < 1<<16:
		dst = binary.BigEndian.AppendUint16(append(dst, 0xda), uint16(n))
	default:
		dst = binary.BigEndian.AppendUint32(append(dst, 0xdb), uint32(n))
	}
	return append(dst, s...)
}

func appendBinary(dst []byte, b []byte) []byte {
	n := len(b)
	switch {
	case n < 1<<8:
		dst = append(dst, 0xc4, byte(n))
	case n < 1<<16:
		dst = binary.BigEndian.AppendUint16(append(dst, 0xc5), uint16(n))
	default:
		dst = binary.BigEndian.AppendUint32(append(dst, 0xc6), uint32(n))
	}
	return append(dst, b...)
}

func appendUint(dst []byte, u uint64) []byte {
	switch {
	case u < 0x80:
		return append(dst, byte(u))
	case u < 1<<8:
		return append(dst, 0xcc, byte(u))
	case u < 1<<16:
		return binary.BigEndian.AppendUint16(append(dst, 0xcd), uint16(u))
	case u < 1<<32:
		return binary.BigEndian.AppendUint32(append(dst, 0xce), uint32(u))
	default:
		return binary.BigEndian.AppendUint64(append(dst, 0xcf), u)
	}
}

func appendInt(dst []byte, i int64) []byte {
	switch {
	case i >= 0:
		return appendUint(dst, uint64(i))
	case i >= -32:
		return append(dst, byte(i))
	case i >= math.MinInt8:
		return append(dst, 0xd0, byte(i))
	case i >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(dst, 0xd1), uint16(i))
	case i >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(dst, 0xd2), uint32(i))
	default:
		return binary.BigEndian.AppendUint64(append(dst, 0xd3), uint64(i))
	}
}

// canonicalNaN is the bit pattern V8 writes for NaN; Go's math.NaN() has a different payload.
const canonicalNaN = 0x7ff8000000000000

func appendFloat(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return binary.BigEndian.AppendUint64(append(dst, 0xcb), canonicalNaN)
	case math.IsInf(f, 0) || f != math.Trunc(f):
		return binary.BigEndian.AppendUint64(append(dst, 0xcb), math.Float64bits(f))
	case f >= 0 && f < 1<<64:
		return appendUint(dst, uint64(f)) // -0 lands here and becomes 00, as in notepack
	case f < 0 && f >= math.MinInt64:
		return appendInt(dst, int64(f))
	}
	// Whole numbers beyond 64 bits: notepack still writes cf (or d3) and keeps only the low
	// 32 bits of both halves, because JS bit operators work on 32-bit integers.
	code := byte(0xcf)
	hi := math.Mod(math.Trunc(f/(1<<32)), 1<<32)
	if f < 0 {
		code = 0xd3
		hi = math.Mod(math.Floor(f/(1<<32)), 1<<32)
	}
	lo := math.Mod(f, 1<<32)
	if hi < 0 {
		hi += 1 << 32
	}
	if lo < 0 {
		lo += 1 << 32
	}
	dst = append(dst, code)
	dst = binary.BigEndian.AppendUint32(dst, uint32(hi))
	return binary.BigEndian.AppendUint32(dst, uint32(lo))
}

// appendTime writes the timestamp extension (type -1) that notepack writes for a JS Date, so
// the time is first truncated to milliseconds.
func appendTime(dst []byte, t time.Time) []byte {
	ms := t.UnixMilli()
	sec := ms / 1000
	if ms%1000 < 0 {
		sec--
	}
	nsec := uint32((ms - sec*1000) * 1e6)
	switch {
	case sec >= 0 && sec < 1<<32 && nsec == 0:
		return binary.BigEndian.AppendUint32(append(dst, 0xd6, 0xff), uint32(sec))
	case sec >= 0 && sec < 1<<34:
		return binary.BigEndian.AppendUint64(append(dst, 0xd7, 0xff), uint64(nsec)<<34|uint64(sec))
	default:
		dst = binary.BigEndian.AppendUint32(append(dst, 0xc7, 12, 0xff), nsec)
		return binary.BigEndian.AppendUint64(dst, uint64(sec))
	}
}

// float32To64 returns the float64 with the same shortest decimal form as f, which is the number
// a JS peer sees after encoding/json wrote f as text.
func float32To64(f float32) float64 {
	g := float64(f)
	if math.IsNaN(g) || math.IsInf(g, 0) {
		return g
	}
	parsed, err := strconv.ParseFloat(strconv.FormatFloat(g, 'g', -1, 32), 64)
	if err != nil {
		return g
	}
	return parsed
}

// sortedMap orders the keys of m as a JS object would order the same keys after a Go
// encoder wrote them sorted: array-index keys ascending by value, then the others sorted.
func sortedMap(m map[string]any) Map {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make(Map, 0, len(m))
	for _, k := range keys {
		out = append(out, Pair{Key: k, Value: m[k]})
	}
	return jsPropertyOrder(out)
}

// jsPropertyOrder moves array-index keys ("0" to "4294967294" without leading zeros) to the
// front in ascending numeric order, keeping the other keys in their order. This is the
// property order of a JS object, and thus the order notepack.io encodes its keys in.
func jsPropertyOrder(m Map) Map {
	var index []Pair
	var rest []Pair
	for _, p := range m {
		if _, ok := arrayIndex(p.Key); ok {
			index = append(index, p)
		} else {
			rest = append(rest, p)
		}
	}
	if len(index) == 0 {
		return m
	}
	sort.SliceStable(index, func(i, j int) bool {
		a, _ := arrayIndex(index[i].Key)
		b, _ := arrayIndex(index[j].Key)
		return a < b
	})
	return append(Map(index), rest...)
}

func arrayIndex(key string) (uint64, bool) {
	if key == "" || (len(key) > 1 && key[0] == '0') {
		return 0, false
	}
	n, err := strconv.ParseUint(key, 10, 32)
	if err != nil || n == math.MaxUint32 {
		return 0, false
	}
	return n, true
}
