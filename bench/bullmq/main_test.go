package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portnimara/nimara/internal/redistest"
)

// TestRun_SmallJobSet runs the whole harness on 200 jobs, so CI proves the benchmark still
// builds and completes. It checks the report's shape, never the measured numbers.
func TestRun_SmallJobSet(t *testing.T) {
	t.Parallel()

	redistest.Client(t) // fails the test when Redis does not respond to PING
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatalf("resolve repository root: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "interop", "node_modules", "bullmq")); err != nil {
		t.Fatalf("Node bullmq not installed (run npm ci in interop/): %v", err)
	}

	var out bytes.Buffer
	cfg := config{
		jobs:            200,
		runs:            1,
		batch:           50,
		payloadBytes:    200,
		concurrency:     []int{1, 50},
		redisURL:        redistest.URL(),
		root:            root,
		nodeBin:         "node",
		goBin:           "go",
		scenarioTimeout: 2 * time.Minute,
		verbose:         true,
		out:             &out,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	if err := run(ctx, cfg); err != nil {
		t.Fatalf("run: %v\noutput:\n%s", err, out.String())
	}

	report := out.String()
	for _, want := range []string{
		"addBulk jobs/s (batch 50)",
		"process jobs/s, concurrency 1",
		"process jobs/s, concurrency 50",
		"Redis CPU us/job, concurrency 50",
		"worker peak RSS MiB, concurrency 50",
		"evalsha",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report has no %q:\n%s", want, report)
		}
	}
}

func TestPayload_ExactSize(t *testing.T) {
	t.Parallel()

	for _, size := range []int{minPayloadBytes, 200, 1024} {
		if got := len(payload(size)); got != size {
			t.Errorf("len(payload(%d)) = %d", size, got)
		}
	}
}

func TestParseCommandStat_Fields(t *testing.T) {
	t.Parallel()

	stat := parseCommandStat("calls=12,usec=345,usec_per_call=28.75,rejected_calls=0")
	if stat.calls != 12 {
		t.Errorf("calls = %d, want 12", stat.calls)
	}
	if stat.usec != 345 {
		t.Errorf("usec = %d, want 345", stat.usec)
	}
}
