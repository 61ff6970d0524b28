package main

import "testing"

func TestTableCell(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		tty  bool
		in   string
		want string
	}{
		{"TerminalShort", true, "full", "full"},
		{"TerminalExact", true, "disks", "disks"},
		{"TerminalLong", true, "abcdefghij", "abcd…"},
		{"TerminalNewline", true, "a\nb\tc", "a b c"},
		{"PipedLong", false, "abcdefghij", "abcdefghij"},
		{"PipedNewline", false, "a\nb\tc", "a b c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			f := &Factory{OutTTY: tt.tty}
			if got := tableCell(f, tt.in, 5); got != tt.want {
				t.Errorf("tableCell(%q, 5) with OutTTY %v = %q, want %q", tt.in, tt.tty, got,
					tt.want)
			}
		})
	}
}
