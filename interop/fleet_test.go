// Package interop contains the end-to-end tests of the nimara binary against the real Node
// peers pinned in package.json. A Node bullmq producer feeds `nimara worker`. Node
// QueueEvents, a Node Socket.IO server with the Redis adapter and socket.io-client browsers
// watch the results.
package interop

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/portnimara/nimara/internal/nodepeer"
	"github.com/portnimara/nimara/internal/redistest"
	"github.com/portnimara/nimara/store/storetest"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// nimaraBinary builds cmd/nimara once per test run and returns its path.
func nimaraBinary(t *testing.T) string {
	t.Helper()

	buildOnce.Do(func() {
		root, err := nodepeer.RepoRoot()
		if err != nil {
			buildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "nimara-interop-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "nimara")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/nimara")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/nimara: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// fleet is the environment one test runs nimara in: its own key prefix, Socket.IO channel
// key and PostgreSQL schema.
type fleet struct {
	t      *testing.T
	bin    string
	prefix string
	sioKey string
	db     *storetest.DB
}

func newFleet(t *testing.T) *fleet {
	t.Helper()

	f := &fleet{
		t:      t,
		bin:    nimaraBinary(t),
		prefix: redistest.Prefix(t),
		db:     storetest.NewSchema(t),
	}
	f.sioKey = "sio-" + f.prefix
	f.run("migrate")
	return f
}

func (f *fleet) env() []string {
	return append(os.Environ(),
		"REDIS_URL="+redistest.URL(),
		"DATABASE_URL="+f.db.URL,
		"NIMARA_PREFIX="+f.prefix,
		"NIMARA_SOCKETIO_KEY="+f.sioKey,
		"NIMARA_METRICS_ADDR=127.0.0.1:0",
		"LOG_FORMAT=text",
	)
}

// run runs a short nimara command and fails the test when it does not exit 0.
func (f *fleet) run(args ...string) string {
	f.t.Helper()

	cmd := exec.Command(f.bin, args...)
	cmd.Env = f.env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		f.t.Fatalf("nimara %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// worker is a running `nimara worker` process.
type worker struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan error
}

func (f *fleet) startWorker(args ...string) *worker {
	f.t.Helper()

	w := &worker{out: &syncBuffer{}, done: make(chan error, 1)}
	w.cmd = exec.Command(f.bin, append([]string{"worker"}, args...)...)
	w.cmd.Env = f.env()
	w.cmd.Stdout = w.out
	w.cmd.Stderr = w.out
	if err := w.cmd.Start(); err != nil {
		f.t.Fatalf("start nimara worker: %v", err)
	}
	go func() { w.done <- w.cmd.Wait() }()

	f.t.Cleanup(func() {
		if w.cmd.ProcessState == nil {
			_ = w.cmd.Process.Kill()
			<-w.done
		}
		if f.t.Failed() {
			f.t.Logf("nimara worker output:\n%s", w.out.String())
		}
	})
	return w
}

// stop sends SIGTERM and returns the exit error (nil for status 0).
func (w *worker) stop(t *testing.T, timeout time.Duration) error {
	t.Helper()

	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("signal worker: %v", err)
	}
	select {
	case err := <-w.done:
		return err
	case <-time.After(timeout):
		t.Fatalf("nimara worker did not exit within %s of SIGTERM", timeout)
		return nil
	}
}

// kill sends SIGKILL, as a node failure or an OOM kill would.
func (w *worker) kill(t *testing.T) {
	t.Helper()

	if err := w.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill worker: %v", err)
	}
	<-w.done
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// seedUsers adds a port and the given users, and returns the port id.
func (f *fleet) seedUsers(ctx context.Context, users ...string) string {
	f.t.Helper()

	const portID = "00000000-0000-4000-8000-000000000001"
	_, err := f.db.Pool.Exec(ctx,
		`INSERT INTO ports (id, name, slug) VALUES ($1, 'Test port', 'test-port')`, portID)
	if err != nil {
		f.t.Fatalf("insert port: %v", err)
	}
	for _, u := range users {
		_, err := f.db.Pool.Exec(ctx,
			`INSERT INTO users (id, name, email, default_port_id) VALUES ($1, $1, $2, $3)`,
			u, u+"@test.example", portID)
		if err != nil {
			f.t.Fatalf("insert user %s: %v", u, err)
		}
	}
	return portID
}

// waitFor polls cond every 50 ms until it returns true or the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()

	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
