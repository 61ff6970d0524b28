package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestIsTerminal_NotTerminals(t *testing.T) {
	t.Parallel()

	devNull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatalf("open %s: %v", os.DevNull, err)
	}
	defer devNull.Close()
	if isTerminal(devNull) {
		t.Errorf("isTerminal(%s) = true, want false", os.DevNull)
	}

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatalf("pipe: %v", err)
	}
	defer r.Close()
	defer w.Close()
	if isTerminal(r) {
		t.Error("isTerminal(pipe) = true, want false")
	}

	file, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatalf("create file: %v", err)
	}
	defer file.Close()
	if isTerminal(file) {
		t.Error("isTerminal(regular file) = true, want false")
	}
}

// buildBinary builds the nimara binary into a temporary directory and returns its path.
func buildBinary(t *testing.T) string {
	t.Helper()

	bin := filepath.Join(t.TempDir(), "nimara")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runBinary runs bin with args and with env added to the test's environment. Stdin is
// /dev/null and the outputs are buffers, so none of them is a terminal. It returns the exit
// code, stdout and stderr.
func runBinary(t *testing.T, bin string, env map[string]string, args ...string,
) (int, string, string) {
	t.Helper()

	cmd := exec.Command(bin, args...)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("run %v: %v", args, err)
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

func TestBinary_DevNullStdinNotTerminal(t *testing.T) {
	t.Parallel()

	bin := buildBinary(t)
	code, _, stderr := runBinary(t, bin, nil, "queues", "drain", "notifications")
	if code != exitUsage {
		t.Errorf("queues drain with stdin /dev/null exit code = %d, want %d; stderr:\n%s",
			code, exitUsage, stderr)
	}
	if strings.Contains(stderr, "[y/N]") {
		t.Errorf("queues drain with stdin /dev/null prompted: %q", stderr)
	}
	if !strings.Contains(stderr, "pass --yes") {
		t.Errorf("queues drain stderr = %q, want it to request --yes", stderr)
	}
}
