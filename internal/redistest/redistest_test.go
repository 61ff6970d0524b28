package redistest

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestPrefix_Format(t *testing.T) {
	t.Parallel()

	prefix := Prefix(t)
	if !regexp.MustCompile(`^nt\{[0-9a-f]{8}\}$`).MatchString(prefix) {
		t.Errorf("Prefix() = %q, want nt{<8 hex digits>}", prefix)
	}
	if other := Prefix(t); other == prefix {
		t.Errorf("two Prefix calls returned the same value %q", prefix)
	}
}

func TestQueueName_Format(t *testing.T) {
	t.Parallel()

	name := QueueName(t)
	if !regexp.MustCompile(`^q[0-9a-f]{8}$`).MatchString(name) {
		t.Errorf("QueueName() = %q, want q<8 hex digits>", name)
	}
	if strings.Contains(name, ":") {
		t.Errorf("QueueName() = %q contains ':'", name)
	}
}

func TestPrefix_CleanupDeletesOnlyPrefixKeys(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	client := Client(t)

	// The inner test ends before the checks, so its Prefix cleanup has run by then. The
	// neighbour key lacks the ':' separator after the prefix, so it must survive.
	var prefix string
	t.Run("Inner", func(t *testing.T) {
		prefix = Prefix(t)
		for i := range 1200 {
			key := prefix + ":q:" + string(rune('a'+i%26)) + ":" + strconv.Itoa(i)
			if err := client.Set(ctx, key, "v", 0).Err(); err != nil {
				t.Fatalf("SET %s: %v", key, err)
			}
		}
		if err := client.Set(ctx, prefix+"-neighbour", "v", 0).Err(); err != nil {
			t.Fatalf("SET neighbour: %v", err)
		}
	})
	t.Cleanup(func() { client.Del(context.Background(), prefix+"-neighbour") })

	keys, err := client.Keys(ctx, EscapePattern(prefix)+"*").Result()
	if err != nil {
		t.Fatalf("KEYS: %v", err)
	}
	if len(keys) != 1 || keys[0] != prefix+"-neighbour" {
		t.Errorf("keys left after cleanup = %v, want only %s-neighbour", keys, prefix)
	}
}

func TestDeleteKeys_CountsDeleted(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	client := Client(t)
	prefix := Prefix(t)

	for _, key := range []string{"a", "b", "c"} {
		if err := client.RPush(ctx, prefix+":"+key, "x").Err(); err != nil {
			t.Fatalf("RPUSH: %v", err)
		}
	}

	n, err := DeleteKeys(ctx, client, EscapePattern(prefix)+":*")
	if err != nil {
		t.Fatalf("DeleteKeys: %v", err)
	}
	if n != 3 {
		t.Errorf("DeleteKeys deleted %d keys, want 3", n)
	}
}

func TestEscapePattern(t *testing.T) {
	t.Parallel()

	tests := []struct {
		in, want string
	}{
		{"nt{ab12}", "nt{ab12}"},
		{"a*b?c", `a\*b\?c`},
		{`[x]\`, `\[x\]\\`},
	}
	for _, tt := range tests {
		if got := EscapePattern(tt.in); got != tt.want {
			t.Errorf("EscapePattern(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestURL_Default(t *testing.T) {
	// Not parallel: t.Setenv changes the process environment.
	t.Setenv("REDIS_URL", "")

	if got := URL(); got != DefaultURL {
		t.Errorf("URL() = %q, want %q", got, DefaultURL)
	}
}
