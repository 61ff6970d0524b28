package notepack

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
	"unicode/utf8"
)

// ErrTruncated is returned when the input ends inside a value.
var ErrTruncated = errors.New("notepack: unexpected end of input")

// Decode decodes one MessagePack value that fills all of data. Maps become map[string]any,
// arrays []any, every integer form int64 (unsigned values above math.MaxInt64 become float64,
// as in JS), every float form float64, bin []byte (a copy), and the timestamp extension
// time.Time in UTC. It also accepts the forms that notepack.io 2.x wrote: d4 00 00 (undefined)
// decodes to nil, d7 00 (milliseconds) to time.Time, and ext type 0 to []byte. Other
// extension types decode to []any{int64(type), []byte(data)}, as notepack.io does.
func Decode(data []byte) (any, error) {
	d := decoder{buf: data}
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	if d.off != len(data) {
		return nil, fmt.Errorf("notepack: %d trailing bytes after the value", len(data)-d.off)
	}
	return v, nil
}

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 1000

type decoder struct {
	buf []byte
	off int
}

func (d *decoder) take(n int) ([]byte, error) {
	if n < 0 || len(d.buf)-d.off < n {
		return nil, ErrTruncated
	}
	b := d.buf[d.off : d.off+n]
	d.off += n
	return b, nil
}

func (d *decoder) uint(n int) (uint64, error) {
	b, err := d.take(n)
	if err != nil {
		return 0, err
	}
	var u uint64
	for _, c := range b {
		u = u<<8 | uint64(c)
	}
	return u, nil
}

func (d *decoder) value(depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("notepack: nesting deeper than %d levels", maxDepth)
	}
	head, err := d.take(1)
	if err != nil {
		return nil, err
	}
	c := head[0]
	switch {
	case c < 0x80:
		return int64(c), nil
	case c < 0x90:
		return d.mapOf(int(c&0x0f), depth)
	case c < 0xa0:
		return d.arrayOf(int(c&0x0f), depth)
	case c < 0xc0:
		return d.str(int(c & 0x1f))
	case c >= 0xe0:
		return int64(int8(c)), nil
	}
	switch c {
	case 0xc0:
		return nil, nil
	case 0xc2:
		return false, nil
	case 0xc3:
		return true, nil
	case 0xc4, 0xc5, 0xc6:
		n, err := d.uint(1 << (c - 0xc4))
		if err != nil {
			return nil, err
		}
		return d.bin(int(n))
	case 0xc7, 0xc8, 0xc9:
		n, err := d.uint(1 << (c - 0xc7))
		if err != nil {
			return nil, err
		}
		return d.ext(int(n), false)
	case 0xca:
		u, err := d.uint(4)
		return float64(math.Float32frombits(uint32(u))), err
	case 0xcb:
		u, err := d.uint(8)
		return math.Float64frombits(u), err
	case 0xcc, 0xcd, 0xce, 0xcf:
		u, err := d.uint(1 << (c - 0xcc))
		if err != nil {
			return nil, err
		}
		if u > math.MaxInt64 {
			return float64(u), nil
		}
		return int64(u), nil
	case 0xd0, 0xd1, 0xd2, 0xd3:
		size := 1 << (c - 0xd0)
		u, err := d.uint(size)
		if err != nil {
			return nil, err
		}
		shift := 64 - 8*size
		return int64(u<<shift) >> shift, nil
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		return d.ext(1<<(c-0xd4), true)
	case 0xd9, 0xda, 0xdb:
		n, err := d.uint(1 << (c - 0xd9))
		if err != nil {
			return nil, err
		}
		return d.str(int(n))
	case 0xdc, 0xdd:
		n, err := d.uint(2 << (c - 0xdc))
		if err != nil {
			return nil, err
		}
		return d.arrayOf(int(n), depth)
	case 0xde, 0xdf:
		n, err := d.uint(2 << (c - 0xde))
		if err != nil {
			return nil, err
		}
		return d.mapOf(int(n), depth)
	}
	return nil, fmt.Errorf("notepack: invalid type byte 0x%02x at offset %d", c, d.off-1)
}

func (d *decoder) str(n int) (any, error) {
	b, err := d.take(n)
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(b) {
		// Node's Buffer.toString replaces invalid sequences the same way.
		return string([]rune(string(b))), nil
	}
	return string(b), nil
}

func (d *decoder) bin(n int) (any, error) {
	b, err := d.take(n)
	if err != nil {
		return nil, err
	}
	return append([]byte{}, b...), nil
}

func (d *decoder) arrayOf(n int, depth int) (any, error) {
	if n > len(d.buf)-d.off {
		return nil, ErrTruncated // every element takes at least one byte
	}
	out := make([]any, n)
	for i := range out {
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (d *decoder) mapOf(n int, depth int) (any, error) {
	if 2*n > len(d.buf)-d.off {
		return nil, ErrTruncated
	}
	out := make(map[string]any, n)
	for range n {
		k, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		out[keyString(k)] = v
	}
	return out, nil
}

// keyString converts a decoded map key to the property name JS would use for it.
func keyString(k any) string {
	switch x := k.(type) {
	case string:
		return x
	case nil:
		return "null"
	case []byte:
		return string(x)
	default:
		b, err := Stringify(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	}
}

// ext decodes an extension value whose data is n bytes long; the type byte comes first.
// fixed tells a fixext (d4 to d8) from an ext 8/16/32, because the legacy type-0 forms differ.
func (d *decoder) ext(n int, fixed bool) (any, error) {
	head, err := d.take(1)
	if err != nil {
		return nil, err
	}
	typ := int8(head[0])
	data, err := d.take(n)
	if err != nil {
		return nil, err
	}
	switch {
	case typ == -1 && n == 4:
		return time.Unix(int64(binary.BigEndian.Uint32(data)), 0).UTC(), nil
	case typ == -1 && n == 8:
		u := binary.BigEndian.Uint64(data)
		return time.Unix(int64(u&(1<<34-1)), int64(u>>34)).UTC(), nil
	case typ == -1 && n == 12:
		nsec := binary.BigEndian.Uint32(data)
		sec := int64(binary.BigEndian.Uint64(data[4:]))
		return time.Unix(sec, int64(nsec)).UTC(), nil
	case typ == 0 && fixed && n == 1:
		return nil, nil // notepack.io 2.x wrote undefined as d4 00 00
	case typ == 0 && fixed && n == 8:
		return time.UnixMilli(int64(binary.BigEndian.Uint64(data))).UTC(), nil
	case typ == 0 && !fixed:
		return append([]byte{}, data...), nil // notepack.io 2.x ArrayBuffer
	}
	return []any{int64(typ), append([]byte{}, data...)}, nil
}
