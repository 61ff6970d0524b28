package bullmq

import (
	"bufio"
	"context"
	"embed"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

//go:embed lua/*.lua lua/include/*.lua
var luaFiles embed.FS

// loadScript reads lua/<name>.lua and expands its "-- @include <file>" lines with
// lua/include/<file>.lua, each include at most once, recursively.
func loadScript(name string) *redis.Script {
	seen := map[string]bool{}
	var b strings.Builder
	if err := expandLua(&b, "lua/"+name+".lua", seen); err != nil {
		panic(fmt.Sprintf("bullmq: load script %s: %v", name, err))
	}
	return redis.NewScript(b.String())
}

func expandLua(b *strings.Builder, path string, seen map[string]bool) error {
	src, err := luaFiles.ReadFile(path)
	if err != nil {
		return err
	}
	sc := bufio.NewScanner(strings.NewReader(string(src)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if inc, ok := strings.CutPrefix(strings.TrimSpace(line), "-- @include "); ok {
			inc = strings.TrimSpace(inc)
			if seen[inc] {
				continue
			}
			seen[inc] = true
			if err := expandLua(b, "lua/include/"+inc+".lua", seen); err != nil {
				return err
			}
			continue
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return sc.Err()
}

// runScript runs s with EVALSHA, falling back to EVAL when the server lacks the script.
func runScript(ctx context.Context, c redis.Scripter, s *redis.Script, keys []string,
	args ...any) *redis.Cmd {
	return s.Run(ctx, c, keys, args...)
}
