package redisdump

import (
	"strings"
)

// maxDiffCells bounds the table of the line diff inside one key. Above it, Diff lists all
// old lines as removed and all new lines as added.
const maxDiffCells = 4_000_000

// Diff returns a line diff of the String renderings of a and b, key by key, or "" when
// they are equal. Lines only in a start with '-', lines only in b with '+', and unchanged
// lines with ' '. Keys that are equal are left out, and a key present in both but with
// different content is shown whole, with its header as context.
func Diff(a, b Snapshot) string {
	var out strings.Builder

	i, j := 0, 0
	for i < len(a.Keys) || j < len(b.Keys) {
		switch {
		case j == len(b.Keys) || (i < len(a.Keys) && a.Keys[i].Name < b.Keys[j].Name):
			writeKey(&out, "-", a.Keys[i])
			i++
		case i == len(a.Keys) || b.Keys[j].Name < a.Keys[i].Name:
			writeKey(&out, "+", b.Keys[j])
			j++
		default:
			diffKey(&out, a.Keys[i], b.Keys[j])
			i++
			j++
		}
	}
	return out.String()
}

func writeKey(out *strings.Builder, mark string, k Key) {
	for _, line := range append([]string{k.header()}, splitLines(k.body())...) {
		out.WriteString(mark + line + "\n")
	}
}

func diffKey(out *strings.Builder, a, b Key) {
	headerA, headerB := a.header(), b.header()
	bodyA, bodyB := a.body(), b.body()
	if headerA == headerB && bodyA == bodyB {
		return
	}

	if headerA == headerB {
		out.WriteString(" " + headerA + "\n")
	} else {
		out.WriteString("-" + headerA + "\n")
		out.WriteString("+" + headerB + "\n")
	}

	for _, line := range diffLines(splitLines(bodyA), splitLines(bodyB)) {
		out.WriteString(line + "\n")
	}
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// diffLines returns the lines of a and b marked with ' ', '-' or '+', from a longest
// common subsequence.
func diffLines(a, b []string) []string {
	var out []string

	// Common leading and trailing lines need no table.
	start := 0
	for start < len(a) && start < len(b) && a[start] == b[start] {
		out = append(out, " "+a[start])
		start++
	}
	endA, endB := len(a), len(b)
	for endA > start && endB > start && a[endA-1] == b[endB-1] {
		endA--
		endB--
	}

	out = append(out, diffMiddle(a[start:endA], b[start:endB])...)

	for _, line := range a[endA:] {
		out = append(out, " "+line)
	}
	return out
}

func diffMiddle(a, b []string) []string {
	var out []string

	if len(a)*len(b) > maxDiffCells {
		for _, line := range a {
			out = append(out, "-"+line)
		}
		for _, line := range b {
			out = append(out, "+"+line)
		}
		return out
	}

	// lcs[i][j] is the length of the longest common subsequence of a[i:] and b[j:].
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}

	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			out = append(out, " "+a[i])
			i++
			j++
		case j == len(b) || (i < len(a) && lcs[i+1][j] >= lcs[i][j+1]):
			out = append(out, "-"+a[i])
			i++
		default:
			out = append(out, "+"+b[j])
			j++
		}
	}
	return out
}
