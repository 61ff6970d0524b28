package redisdump

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Opts configures the normalization rules listed in the package documentation. The zero
// value, or a nil *Opts, applies every rule with its defaults.
type Opts struct {
	// Replace maps literal strings to placeholders, applied after the prefix became <P>,
	// longest key first. Typical use: {queueName: "<Q>"}. Default: none.
	Replace map[string]string

	// StackFields names the hash fields whose JSON array elements become "<stack>".
	// Default: []string{"stacktrace"}.
	StackFields []string

	// RawScoreKeys lists last key segments (after the final ':') whose sorted set scores are
	// kept exactly. Default: []string{"prioritized"}.
	RawScoreKeys []string

	// TimestampMin and TimestampMax bound the millisecond values that count as timestamps.
	// Default: 2010-01-01 and 2100-01-01 UTC.
	TimestampMin, TimestampMax time.Time

	// KeepJSON keeps JSON values as stored instead of re-encoding them. Default: false.
	KeepJSON bool

	// KeepStacks keeps the elements of StackFields arrays. Default: false.
	KeepStacks bool

	// KeepTokens keeps lock tokens of the form <uuid>:<n>. Default: false.
	KeepTokens bool

	// KeepUUIDs keeps UUIDs. Default: false.
	KeepUUIDs bool

	// KeepTimestamps keeps 13-digit millisecond timestamps. Default: false.
	KeepTimestamps bool

	// KeepScores keeps every sorted set score exactly. Default: false.
	KeepScores bool

	// KeepStreamIDs keeps stream entry ids instead of numbering the entries. Default: false.
	KeepStreamIDs bool

	// IgnoreTTL drops the has-TTL flag from every key. Default: false.
	IgnoreTTL bool
}

var (
	defaultTimestampMin = time.Date(2010, time.January, 1, 0, 0, 0, 0, time.UTC)
	defaultTimestampMax = time.Date(2100, time.January, 1, 0, 0, 0, 0, time.UTC)

	uuidPattern  = `[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`
	uuidRegexp   = regexp.MustCompile(uuidPattern)
	tokenRegexp  = regexp.MustCompile(`^` + uuidPattern + `:[0-9]+$`)
	digitsRegexp = regexp.MustCompile(`[0-9]+`)
)

// Placeholders written by the normalization rules.
const (
	PrefixPlaceholder    = "<P>"
	TimestampPlaceholder = "<ts>"
	TokenPlaceholder     = "<token>"
	UUIDPlaceholder      = "<uuid>"
	StackPlaceholder     = "<stack>"
)

// normalizer applies Opts to names and values of one dump.
type normalizer struct {
	opts         Opts
	replacements []string // old, new pairs for strings.Replacer, prefix first
	replacer     *strings.Replacer
	stackFields  map[string]bool
	rawScoreKeys map[string]bool
	minMS, maxMS int64
}

func newNormalizer(prefix string, opts *Opts) *normalizer {
	n := &normalizer{}
	if opts != nil {
		n.opts = *opts
	}

	n.stackFields = toSet(n.opts.StackFields, []string{"stacktrace"})
	n.rawScoreKeys = toSet(n.opts.RawScoreKeys, []string{"prioritized"})

	minTime, maxTime := n.opts.TimestampMin, n.opts.TimestampMax
	if minTime.IsZero() {
		minTime = defaultTimestampMin
	}
	if maxTime.IsZero() {
		maxTime = defaultTimestampMax
	}
	n.minMS, n.maxMS = minTime.UnixMilli(), maxTime.UnixMilli()

	// strings.Replacer tries the pairs in argument order at each position, so the prefix
	// goes first and longer replacements before shorter ones that they contain.
	olds := make([]string, 0, len(n.opts.Replace))
	for old := range n.opts.Replace {
		if old != "" {
			olds = append(olds, old)
		}
	}
	slices.SortFunc(olds, func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	})

	pairs := []string{prefix, PrefixPlaceholder}
	for _, old := range olds {
		pairs = append(pairs, old, n.opts.Replace[old])
	}
	n.replacer = strings.NewReplacer(pairs...)

	return n
}

func toSet(values, defaults []string) map[string]bool {
	if values == nil {
		values = defaults
	}

	set := make(map[string]bool, len(values))
	for _, v := range values {
		set[v] = true
	}
	return set
}

// text applies the replacement, token, UUID and timestamp rules to a string.
func (n *normalizer) text(s string) string {
	s = n.replacer.Replace(s)

	if !n.opts.KeepTokens && tokenRegexp.MatchString(s) {
		return TokenPlaceholder
	}

	if !n.opts.KeepUUIDs {
		s = uuidRegexp.ReplaceAllLiteralString(s, UUIDPlaceholder)
	}

	if !n.opts.KeepTimestamps {
		s = digitsRegexp.ReplaceAllStringFunc(s, func(digits string) string {
			if n.isTimestamp(digits) {
				return TimestampPlaceholder
			}
			return digits
		})
	}
	return s
}

func (n *normalizer) isTimestamp(digits string) bool {
	if len(digits) != 13 {
		return false
	}

	ms, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return false
	}
	return ms >= n.minMS && ms <= n.maxMS
}

// value normalizes a stored value. field is the hash field name, or "" outside hashes.
func (n *normalizer) value(field, s string) string {
	if !n.opts.KeepJSON {
		if normalized, ok := n.jsonValue(field, s); ok {
			return normalized
		}
	}
	return n.text(s)
}

// jsonValue re-encodes s when it is a JSON object or array, and reports whether it was.
func (n *normalizer) jsonValue(field, s string) (string, bool) {
	trimmed := strings.TrimSpace(s)
	if trimmed == "" || (trimmed[0] != '{' && trimmed[0] != '[') {
		return "", false
	}

	decoder := json.NewDecoder(strings.NewReader(trimmed))
	decoder.UseNumber()

	var tree any
	if err := decoder.Decode(&tree); err != nil || decoder.More() {
		return "", false
	}

	if list, ok := tree.([]any); ok && n.stackFields[field] && !n.opts.KeepStacks {
		for i := range list {
			list[i] = StackPlaceholder
		}
	}

	encoded, err := encodeJSON(n.jsonTree(tree))
	if err != nil {
		return "", false
	}
	return encoded, true
}

func (n *normalizer) jsonTree(node any) any {
	switch v := node.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for key, child := range v {
			out[n.text(key)] = n.jsonTree(child)
		}
		return out
	case []any:
		for i, child := range v {
			v[i] = n.jsonTree(child)
		}
		return v
	case string:
		return n.text(v)
	case json.Number:
		if !n.opts.KeepTimestamps && n.isTimestamp(v.String()) {
			return TimestampPlaceholder
		}
		return v
	default:
		return v
	}
}

// encodeJSON encodes with sorted object keys (encoding/json sorts map keys) and without
// the HTML escaping that would turn "<ts>" into "\u003cts\u003e".
func encodeJSON(tree any) (string, error) {
	var buf bytes.Buffer

	encoder := json.NewEncoder(&buf)
	encoder.SetEscapeHTML(false)
	if err := encoder.Encode(tree); err != nil {
		return "", fmt.Errorf("encoding JSON: %w", err)
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

// scores normalizes the scores of one sorted set, given in score order.
func (n *normalizer) scores(normalizedKey string, scores []float64) []string {
	lastSegment := normalizedKey[strings.LastIndexByte(normalizedKey, ':')+1:]
	keepAll := n.opts.KeepScores || n.rawScoreKeys[lastSegment]

	minMS, maxMS := float64(n.minMS), float64(n.maxMS)
	out := make([]string, len(scores))
	rank := 0
	for i, score := range scores {
		switch {
		case keepAll:
			out[i] = formatScore(score)
		case score >= minMS && score <= maxMS:
			out[i] = fmt.Sprintf("<ts#%d>", rank)
			rank++
		case score >= minMS*4096 && score <= maxMS*4096+4095:
			out[i] = fmt.Sprintf("<ts*4096#%d>", rank)
			rank++
		default:
			out[i] = formatScore(score)
		}
	}
	return out
}

func formatScore(score float64) string {
	return strconv.FormatFloat(score, 'f', -1, 64)
}
