package emitter_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// interopDir returns the directory with the Node peers and their node_modules.
func interopDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "interop"))
	if err != nil {
		t.Fatalf("locate interop directory: %v", err)
	}
	emitterDir := filepath.Join(dir, "node_modules", "@socket.io", "redis-emitter")
	if _, err := os.Stat(emitterDir); err != nil {
		t.Fatalf("Node peers missing in %s: run `npm ci` there first (%v)", dir, err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("node not found in PATH: %v", err)
	}
	return dir
}

// nodeProcess is a Node script started by a test; its stdout arrives line by line.
type nodeProcess struct {
	lines <-chan string
	done  <-chan error
}

// startNode runs `node script` in the interop directory with env added, and kills it when
// the test ends. Stderr goes to the test log.
func startNode(t *testing.T, script string, env ...string) *nodeProcess {
	t.Helper()
	dir := interopDir(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "node", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = testWriter{t}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("stdout pipe: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node %s: %v", script, err)
	}
	lines := make(chan string, 256)
	done := make(chan error, 1)
	go func() {
		scanner := bufio.NewScanner(stdout)
		scanner.Buffer(make([]byte, 1<<20), 1<<24)
		for scanner.Scan() {
			lines <- scanner.Text()
		}
		close(lines)
		done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Errorf("node %s did not exit after kill", script)
		}
	})
	return &nodeProcess{lines: lines, done: done}
}

// nextLine returns the next stdout line, failing the test after timeout or at exit.
func (p *nodeProcess) nextLine(t *testing.T, timeout time.Duration) string {
	t.Helper()
	select {
	case line, ok := <-p.lines:
		if !ok {
			t.Fatal("node exited before printing the expected line")
		}
		return line
	case <-time.After(timeout):
		t.Fatalf("no output from node within %s", timeout)
	}
	return ""
}

// testWriter forwards a subprocess's stderr to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("node: %s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// redisURL returns the Redis URL the Node peers should use, the same as testRedis.
func redisURL() string {
	if url := os.Getenv("TEST_REDIS_URL"); url != "" {
		return url
	}
	return "redis://127.0.0.1:6379/15"
}
