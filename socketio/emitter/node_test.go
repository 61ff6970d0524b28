package emitter_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/portnimara/nimara/socketio/internal/siotest"
)

// nodeProcess is a Node script started by a test; its stdout arrives line by line.
type nodeProcess struct {
	lines <-chan string
	done  <-chan error
}

// startNode runs `node script` in the interop directory with env added, and kills it when
// the test ends. Stderr goes to the test log.
func startNode(t *testing.T, script string, env ...string) *nodeProcess {
	t.Helper()
	dir := siotest.InteropDir(t, "@socket.io/redis-emitter")
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "node", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = siotest.NewLogWriter(t, "node: ")
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
