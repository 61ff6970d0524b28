package redisdump

import (
	"strconv"
	"strings"
	"unicode"
)

// String renders the snapshot as stable text: one header line per key (name, type, and
// "ttl" when the key had one), then its content indented by two spaces:
//
//	<P>:<Q>:1 hash
//	  atm = 1
//	<P>:<Q>:1:lock string ttl
//	  <token>
//	<P>:<Q>:completed zset
//	  1 @ <ts#0>
//	<P>:<Q>:events stream
//	  #0 event = added
//
// Values that are empty, start with a quote, or contain spaces at either end or control
// characters are written as Go quoted strings.
func (s Snapshot) String() string {
	var b strings.Builder
	for _, k := range s.Keys {
		b.WriteString(k.header())
		b.WriteByte('\n')
		b.WriteString(k.body())
	}
	return b.String()
}

func (k Key) header() string {
	header := quote(k.Name) + " " + k.Type
	if k.HasTTL {
		header += " ttl"
	}
	return header
}

// body renders the content lines of the key, each ending in a newline.
func (k Key) body() string {
	var b strings.Builder
	line := func(parts ...string) {
		b.WriteString("  ")
		b.WriteString(strings.Join(parts, " "))
		b.WriteByte('\n')
	}

	switch k.Type {
	case "string":
		line(quote(k.Value))
	case "hash":
		for _, f := range k.Fields {
			line(quote(f.Name), "=", quote(f.Value))
		}
	case "list", "set":
		for _, item := range k.Items {
			line(quote(item))
		}
	case "zset":
		for _, m := range k.Members {
			line(quote(m.Member), "@", m.Score)
		}
	case "stream":
		for _, e := range k.Entries {
			if len(e.Fields) == 0 {
				line(e.ID)
			}
			for _, f := range e.Fields {
				line(e.ID, quote(f.Name), "=", quote(f.Value))
			}
		}
	}
	return b.String()
}

func quote(s string) string {
	if s == "" || s[0] == '"' || strings.TrimSpace(s) != s {
		return strconv.Quote(s)
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return strconv.Quote(s)
		}
	}
	return s
}
