package notepack

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestEncode_Widths(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"WholeFloatIsInt", 1.0, "01"},
		{"NegativeZero", math.Copysign(0, -1), "00"},
		{"FixintMax", 127, "7f"},
		{"Uint8", 200, "ccc8"},
		{"Uint16", 65535, "cdffff"},
		{"Uint32", int64(1<<32 - 1), "ceffffffff"},
		{"TwoPow40", float64(1 << 40), "cf0000010000000000"},
		{"NegFixint", -32, "e0"},
		{"Int8", -33, "d0df"},
		{"Int16", -200, "d1ff38"},
		{"Int32", math.MinInt32, "d280000000"},
		{"Int64", int64(math.MinInt32) - 1, "d3ffffffff7fffffff"},
		{"Fraction", 0.5, "cb3fe0000000000000"},
		{"NaNCanonical", math.NaN(), "cb7ff8000000000000"},
		{"Float32AsDecimal", float32(0.1), "cb3fb999999999999a"},
		{"True", true, "c3"},
		{"Nil", nil, "c0"},
		{"Fixstr31", strings.Repeat("a", 31), "bf" + strings.Repeat("61", 31)},
		{"Str8", strings.Repeat("a", 32), "d920" + strings.Repeat("61", 32)},
		{"Str16", strings.Repeat("a", 256), "da0100" + strings.Repeat("61", 256)},
		{"Utf8Length", "Ω", "a2cea9"},
		{"Bin8", []byte{1}, "c40101"},
		{"Bin16", make([]byte, 256), "c50100" + strings.Repeat("00", 256)},
		{"Array16", make([]any, 16), "dc0010" + strings.Repeat("c0", 16)},
		{"OrderedMap", Map{{"b", 1}, {"a", 2}}, "82a16201a16102"},
		{"Timestamp32", time.Unix(1700000000, 0), "d6ff6553f100"},
		{"Timestamp64", time.UnixMilli(1700000000120), "d7ff1c9c38006553f100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Encode(tt.in)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if hex.EncodeToString(got) != tt.want {
				t.Errorf("Encode(%v) = %x, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestEncode_RejectsUnnormalized(t *testing.T) {
	t.Parallel()
	if _, err := Encode(struct{}{}); err == nil {
		t.Error("Encode of a struct returned no error")
	}
}

func TestDecode_RoundTrip(t *testing.T) {
	t.Parallel()
	in := Map{
		{"i", -129}, {"u", uint64(math.MaxUint32) + 1}, {"f", 2.5}, {"s", strings.Repeat("x", 40)},
		{"b", []byte{1, 2}}, {"l", []any{true, nil, "z"}}, {"t", time.UnixMilli(1700000000120)},
	}
	data, err := Encode(in)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	got, err := Decode(data)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	want := map[string]any{
		"i": int64(-129), "u": int64(math.MaxUint32) + 1, "f": 2.5,
		"s": strings.Repeat("x", 40), "b": []byte{1, 2}, "l": []any{true, nil, "z"},
		"t": time.UnixMilli(1700000000120).UTC(),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Decode = %#v, want %#v", got, want)
	}
}

func TestDecode_Forms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want any
	}{
		{"LegacyUndefined", "d40000", nil},
		{"LegacyDate", "d7000000018bcfe56800", time.UnixMilli(1700000000000).UTC()},
		{"LegacyArrayBuffer", "c7020001ff", []byte{1, 0xff}},
		{"OtherExt", "d50501ff", []any{int64(5), []byte{1, 0xff}}},
		{"Float32", "ca3fc00000", 1.5},
		{"Uint64Max", "cfffffffffffffffff", float64(math.MaxUint64)},
		{"Int64", "d3ffffffff7fffffff", int64(math.MinInt32) - 1},
		{"Map32", "df00000001a16101", map[string]any{"a": int64(1)}},
		{"IntegerKey", "810102", map[string]any{"1": int64(2)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in, _ := hex.DecodeString(tt.in)
			got, err := Decode(in)
			if err != nil {
				t.Fatalf("Decode(%s): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Decode(%s) = %#v, want %#v", tt.in, got, tt.want)
			}
		})
	}
}

func TestDecode_Errors(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "0102", "92c0", "d9ff61", "c1", "dfffffffff"} {
		data, _ := hex.DecodeString(in)
		if _, err := Decode(data); err == nil {
			t.Errorf("Decode(%q) returned no error", in)
		}
	}
}

type Inner struct {
	Shared string `json:"shared"`
	Deep   int
}

type outer struct {
	Inner
	*Missing
	Name     string          `json:"name"`
	Skip     string          `json:"-"`
	Empty    string          `json:"empty,omitempty"`
	Zero     time.Time       `json:"zero,omitzero"`
	Count    int             `json:"count,string"`
	Shared   string          `json:"shared"`
	Raw      json.RawMessage `json:"raw"`
	When     time.Time       `json:"when"`
	Blob     []byte          `json:"blob"`
	Arr      [2]byte         `json:"arr"`
	Labels   map[int]string  `json:"labels"`
	NilSlice []string        `json:"nilSlice"`
	Nine     string          `json:"9"`
	private  int
}

type Missing struct{ Hidden int }

func TestNormalize_FollowsEncodingJSON(t *testing.T) {
	t.Parallel()
	v := outer{
		Inner: Inner{Shared: "inner", Deep: 1}, Name: "n", Skip: "s", Count: 5,
		Shared: "outer", Raw: json.RawMessage(`{"b":1,"a":2,"b":3}`),
		When: time.Date(2023, 11, 14, 22, 13, 20, 120000000, time.UTC),
		Blob: []byte{1}, Arr: [2]byte{3, 4}, Labels: map[int]string{10: "x", 2: "y"},
		Nine: "nine", private: 1,
	}
	got, err := Normalize(v)
	if err != nil {
		t.Fatalf("Normalize: %v", err)
	}
	text, err := Stringify(got)
	if err != nil {
		t.Fatalf("Stringify: %v", err)
	}
	want := `{"9":"nine","Deep":1,"name":"n","count":"5","shared":"outer",` +
		`"raw":{"b":3,"a":2},"when":"2023-11-14T22:13:20.12Z",` +
		`"blob":{"type":"Buffer","data":[1]},"arr":[3,4],"labels":{"2":"y","10":"x"},` +
		`"nilSlice":null}`
	if string(text) != want {
		t.Errorf("Stringify(Normalize(v))\n got %s\nwant %s", text, want)
	}
	// encoding/json must agree on everything but the binary and the key order.
	std, _ := json.Marshal(v)
	var fromStd, fromOurs map[string]any
	_ = json.Unmarshal(std, &fromStd)
	_ = json.Unmarshal(text, &fromOurs)
	fromStd["blob"], fromOurs["blob"] = nil, nil
	if !reflect.DeepEqual(fromStd, fromOurs) {
		t.Errorf("encoding/json wrote %s", std)
	}
}

func TestNormalize_Rejects(t *testing.T) {
	t.Parallel()
	for _, v := range []any{func() {}, make(chan int), complex(1, 2), map[[2]int]int{{1, 2}: 3}} {
		if _, err := Normalize(v); err == nil {
			t.Errorf("Normalize(%T) returned no error", v)
		}
	}
}

func TestStringify_JSNotation(t *testing.T) {
	t.Parallel()
	got, err := Stringify([]any{1e21, 1e-7, 0.000001, 123.0, math.Copysign(0, -1), math.Inf(1),
		"<&>\u2028\x01\b\x7f", string([]byte{0xff})})
	if err != nil {
		t.Fatalf("Stringify: %v", err)
	}
	want := "[1e+21,1e-7,0.000001,123,0,null,\"<&>\u2028\\u0001\\b\x7f\",\"\ufffd\"]"
	if !bytes.Equal(got, []byte(want)) {
		t.Errorf("Stringify = %s, want %s", got, want)
	}
}
