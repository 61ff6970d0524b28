package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func TestRedisLogger_DebugLevelOnly(t *testing.T) {
	t.Parallel()

	f, _, errOut := testFactory(map[string]string{"LOG_LEVEL": "debug"})
	l := &redisLogger{factory: f}
	l.Printf(context.Background(), "%s: failed to dial after %d attempts", "pool", 5)

	var record map[string]any
	if err := json.Unmarshal([]byte(errOut.String()), &record); err != nil {
		t.Fatalf("log output %q is not one JSON line: %v", errOut, err)
	}
	if record["level"] != "DEBUG" {
		t.Errorf("level = %v, want DEBUG", record["level"])
	}
	if record["line"] != "pool: failed to dial after 5 attempts" {
		t.Errorf("line = %v, want the formatted go-redis line", record["line"])
	}

	f, _, errOut = testFactory(map[string]string{"LOG_LEVEL": "info"})
	l = &redisLogger{factory: f}
	l.Printf(context.Background(), "failed to dial")
	if errOut.String() != "" {
		t.Errorf("log output at info = %q, want nothing", errOut)
	}
}

func TestBinary_RedisDownPrintsOnlyError(t *testing.T) {
	t.Parallel()

	bin := buildBinary(t)
	env := map[string]string{"REDIS_URL": "redis://127.0.0.1:1", "LOG_LEVEL": "info"}
	code, stdout, stderr := runBinary(t, bin, env, "jobs", "ls", "email")
	if code != exitError {
		t.Errorf("jobs ls with Redis down exit code = %d, want %d", code, exitError)
	}
	if stdout != "" {
		t.Errorf("jobs ls with Redis down stdout = %q, want nothing", stdout)
	}
	want := "Error: connect to Redis at 127.0.0.1:1: "
	if !strings.HasPrefix(stderr, want) || strings.Count(stderr, "\n") != 1 {
		t.Errorf("jobs ls with Redis down stderr = %q, want only the line %q...", stderr, want)
	}

	env["LOG_LEVEL"] = "debug"
	_, _, stderr = runBinary(t, bin, env, "jobs", "ls", "email")
	if !strings.Contains(stderr, `"msg":"go-redis log line"`) {
		t.Errorf("jobs ls at debug stderr = %q, want the go-redis lines as debug records",
			stderr)
	}
}
