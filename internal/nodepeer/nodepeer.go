// Package nodepeer runs the real Node BullMQ and Socket.IO packages from Go tests.
//
// Start launches interop/peer.mjs, a long-lived Node process, and Eval runs JavaScript in it:
// the code is the body of an async function, and its return value comes back as JSON. The
// code can use args, state (an object kept across calls), emit(name, payload), bullmq (the
// module of the chosen major), IORedis, redisOpts ({host, port} from REDIS_URL, ready for a
// bullmq connection), require (rooted at interop/), sleep(ms) and onClose(fn). Functions
// passed to onClose run when the peer shuts down, so workers and servers close cleanly.
//
// Events that the code emits are buffered per name without limit. Read them with Next or
// Drain. Errors that escape async code in the peer (unhandled rejections, uncaught
// exceptions) arrive as "error" events with the payload {"kind","message","stack"}, and are
// also written to the test log.
//
// The peer's stderr goes to the test log. The Node packages must be installed first with
// `npm ci` in interop/ (make test does this).
package nodepeer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Majors lists the supported BullMQ major versions, newest first, for tests that loop over
// both: 6 runs bullmq 6.7.6 and 5 runs bullmq 5.81.5 (the npm alias bullmq5).
var Majors = []int{6, 5}

const (
	// DefaultTimeout bounds MustEval, MustEvalAs and MustNext, and the wait for the peer to
	// start.
	DefaultTimeout = 60 * time.Second

	// closeTimeout is how long Close waits for the peer to run its closers and exit before
	// it kills the process.
	closeTimeout = 10 * time.Second

	// readyEvent is the first line the peer writes once its modules are loaded.
	readyEvent = "__ready"
)

// ErrClosed is returned by Eval and Next once the peer process has exited.
var ErrClosed = errors.New("nodepeer: peer process exited")

// EvalError is a JavaScript error thrown by the code passed to Eval.
type EvalError struct {
	// Message is the error's message property, or the thrown value as a string.
	Message string

	// Stack is the error's stack property, empty when the thrown value was not an Error.
	Stack string
}

func (e *EvalError) Error() string {
	return "node: " + e.Message
}

// Peer is a running peer process. Its methods are safe for concurrent use.
type Peer struct {
	major int
	tb    testing.TB
	cmd   *exec.Cmd

	writeMu sync.Mutex
	stdin   io.WriteCloser

	mu      sync.Mutex
	nextID  int64
	pending map[int64]chan response
	events  map[string][]json.RawMessage
	changed chan struct{} // closed and replaced whenever events or exitErr change
	exitErr error         // set once the stdout reader stops

	readerDone chan struct{}
	closeOnce  sync.Once
	closeErr   error
}

type response struct {
	ID     *int64          `json:"id"`
	OK     bool            `json:"ok"`
	Result json.RawMessage `json:"result"`
	Error  string          `json:"error"`
	Stack  string          `json:"stack"`

	Event   *string         `json:"event"`
	Payload json.RawMessage `json:"payload"`
}

// Start runs `node interop/peer.mjs --bullmq <major>` from the repository root and waits
// until the peer has loaded its modules. REDIS_URL is passed through. A cleanup closes the
// peer: it closes stdin, so the peer runs its onClose functions and exits, and kills the
// process if it is still running after 10 seconds. Start fails the test when major is not
// in Majors, when interop/node_modules is missing, or when the peer does not start.
func Start(t testing.TB, major int) *Peer {
	t.Helper()

	if major != 5 && major != 6 {
		t.Fatalf("nodepeer: unsupported BullMQ major %d: use one of %v", major, Majors)
	}

	root, err := RepoRoot()
	if err != nil {
		t.Fatalf("nodepeer: %v", err)
	}

	modules := filepath.Join(root, "interop", "node_modules")
	if _, err := os.Stat(modules); err != nil {
		t.Fatalf("nodepeer: %s is missing: run `npm ci` in interop/ (or `make test`): %v",
			modules, err)
	}

	p, err := start(t, root, major)
	if err != nil {
		t.Fatalf("nodepeer: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("nodepeer: closing BullMQ %d peer: %v", major, err)
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	defer cancel()

	if _, err := p.Next(ctx, readyEvent); err != nil {
		t.Fatalf("nodepeer: waiting for the BullMQ %d peer to start: %v", major, err)
	}
	return p
}

func start(t testing.TB, root string, major int) (*Peer, error) {
	cmd := exec.Command("node", filepath.Join("interop", "peer.mjs"), "--bullmq",
		strconv.Itoa(major))
	cmd.Dir = root
	cmd.Env = os.Environ()
	cmd.Stderr = &logWriter{tb: t, prefix: fmt.Sprintf("node peer (bullmq %d): ", major)}
	// Bounds the wait for stderr copying after the process exited.
	cmd.WaitDelay = closeTimeout

	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("creating stdin pipe: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("creating stdout pipe: %w", err)
	}

	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting node (is Node.js 20+ on PATH?): %w", err)
	}

	p := &Peer{
		major:      major,
		tb:         t,
		cmd:        cmd,
		stdin:      stdin,
		pending:    make(map[int64]chan response),
		events:     make(map[string][]json.RawMessage),
		changed:    make(chan struct{}),
		readerDone: make(chan struct{}),
	}
	go p.read(stdout)

	return p, nil
}

// Major returns the BullMQ major version the peer loaded.
func (p *Peer) Major() int {
	return p.major
}

// Eval runs code as the body of an async function in the peer and returns the JSON of its
// return value (null for undefined). A JavaScript error thrown by the code is returned as an
// *EvalError. When ctx ends first, Eval returns ctx.Err() and the code keeps running.
func (p *Peer) Eval(ctx context.Context, code string, args any) (json.RawMessage, error) {
	argsJSON, err := json.Marshal(args)
	if err != nil {
		return nil, fmt.Errorf("encoding eval args: %w", err)
	}

	p.mu.Lock()
	if p.exitErr != nil {
		err := p.exitErr
		p.mu.Unlock()
		return nil, err
	}
	p.nextID++
	id := p.nextID
	replyCh := make(chan response, 1)
	p.pending[id] = replyCh
	p.mu.Unlock()

	line, err := json.Marshal(struct {
		ID   int64           `json:"id"`
		Op   string          `json:"op"`
		Code string          `json:"code"`
		Args json.RawMessage `json:"args"`
	}{id, "eval", code, argsJSON})
	if err != nil {
		p.forget(id)
		return nil, fmt.Errorf("encoding eval request: %w", err)
	}

	if err := p.write(append(line, '\n')); err != nil {
		p.forget(id)
		return nil, err
	}

	select {
	case reply, ok := <-replyCh:
		if !ok {
			return nil, fmt.Errorf("waiting for eval %d: %w", id, ErrClosed)
		}
		if !reply.OK {
			return nil, &EvalError{Message: reply.Error, Stack: reply.Stack}
		}
		return reply.Result, nil
	case <-ctx.Done():
		p.forget(id)
		return nil, fmt.Errorf("waiting for eval %d: %w", id, ctx.Err())
	}
}

// MustEval is Eval with DefaultTimeout that fails the test on any error.
func (p *Peer) MustEval(t testing.TB, code string, args any) json.RawMessage {
	t.Helper()

	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	defer cancel()

	result, err := p.Eval(ctx, code, args)
	if err != nil {
		t.Fatalf("nodepeer: eval failed: %s\ncode:\n%s", describe(err), code)
	}
	return result
}

// EvalAs runs Eval and decodes the result into a T.
func EvalAs[T any](ctx context.Context, p *Peer, code string, args any) (T, error) {
	var value T

	result, err := p.Eval(ctx, code, args)
	if err != nil {
		return value, err
	}

	if err := json.Unmarshal(result, &value); err != nil {
		return value, fmt.Errorf("decoding eval result %s into %T: %w", result, value, err)
	}
	return value, nil
}

// MustEvalAs is EvalAs with DefaultTimeout that fails the test on any error.
func MustEvalAs[T any](t testing.TB, p *Peer, code string, args any) T {
	t.Helper()

	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	defer cancel()

	value, err := EvalAs[T](ctx, p, code, args)
	if err != nil {
		t.Fatalf("nodepeer: eval failed: %s\ncode:\n%s", describe(err), code)
	}
	return value
}

// Next returns the payload of the oldest buffered event with this name, waiting for one to
// arrive. It returns ErrClosed (wrapped) when the peer has exited and nothing is buffered.
func (p *Peer) Next(ctx context.Context, name string) (json.RawMessage, error) {
	for {
		p.mu.Lock()
		if queue := p.events[name]; len(queue) > 0 {
			payload := queue[0]
			p.events[name] = queue[1:]
			p.mu.Unlock()
			return payload, nil
		}
		exitErr := p.exitErr
		changed := p.changed
		p.mu.Unlock()

		if exitErr != nil {
			return nil, fmt.Errorf("waiting for event %q: %w", name, exitErr)
		}

		select {
		case <-changed:
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for event %q: %w", name, ctx.Err())
		}
	}
}

// MustNext is Next with DefaultTimeout that fails the test on any error.
func (p *Peer) MustNext(t testing.TB, name string) json.RawMessage {
	t.Helper()

	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	defer cancel()

	payload, err := p.Next(ctx, name)
	if err != nil {
		t.Fatalf("nodepeer: %v", err)
	}
	return payload
}

// Drain removes and returns the buffered payloads of the events with this name, oldest
// first, without waiting.
func (p *Peer) Drain(name string) []json.RawMessage {
	p.mu.Lock()
	defer p.mu.Unlock()

	payloads := p.events[name]
	delete(p.events, name)
	return payloads
}

// Close closes the peer's stdin, so it runs its onClose functions and exits, and waits for
// it. It kills the process after 10 seconds. Close is idempotent, and the cleanup from
// Start calls it.
func (p *Peer) Close() error {
	p.closeOnce.Do(func() {
		p.closeErr = p.stop(false)
	})
	return p.closeErr
}

// Kill ends the peer with SIGKILL, without running its onClose functions, as a crash
// would. Locks held by its workers stay in Redis until they expire.
func (p *Peer) Kill() error {
	p.closeOnce.Do(func() {
		p.closeErr = p.stop(true)
	})
	return p.closeErr
}

func (p *Peer) stop(kill bool) error {
	if kill {
		err := p.cmd.Process.Signal(syscall.SIGKILL)
		if err != nil && !errors.Is(err, os.ErrProcessDone) {
			return fmt.Errorf("killing node: %w", err)
		}
	} else {
		p.writeMu.Lock()
		_ = p.stdin.Close()
		p.writeMu.Unlock()
	}

	exited := make(chan error, 1)
	go func() {
		// Wait closes the stdout pipe, so read the rest first.
		<-p.readerDone
		err := p.cmd.Wait()
		p.cmd.Stderr.(*logWriter).flush()
		exited <- err
	}()

	select {
	case err := <-exited:
		if kill || err == nil {
			return nil
		}
		return fmt.Errorf("node exited: %w", err)
	case <-time.After(closeTimeout):
		_ = p.cmd.Process.Kill()
		<-exited
		return fmt.Errorf("node did not exit within %s after stdin was closed, killed it",
			closeTimeout)
	}
}

func (p *Peer) write(line []byte) error {
	p.writeMu.Lock()
	defer p.writeMu.Unlock()

	if _, err := p.stdin.Write(line); err != nil {
		return fmt.Errorf("writing request to node: %w", err)
	}
	return nil
}

func (p *Peer) forget(id int64) {
	p.mu.Lock()
	delete(p.pending, id)
	p.mu.Unlock()
}

// read dispatches stdout lines until EOF, then fails every pending Eval and Next.
func (p *Peer) read(stdout io.Reader) {
	defer close(p.readerDone)

	reader := bufio.NewReader(stdout)
	for {
		line, err := reader.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			p.dispatch(line)
		}
		if err != nil {
			break
		}
	}

	p.mu.Lock()
	p.exitErr = ErrClosed
	for id, replyCh := range p.pending {
		close(replyCh)
		delete(p.pending, id)
	}
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

func (p *Peer) dispatch(line []byte) {
	var msg response
	if err := json.Unmarshal(line, &msg); err != nil {
		p.tb.Logf("nodepeer: ignoring invalid line from node: %v: %s", err, line)
		return
	}

	if msg.Event != nil {
		p.addEvent(*msg.Event, msg.Payload)
		return
	}

	if msg.ID == nil {
		p.tb.Logf("nodepeer: node reported an error without a request id: %s", msg.Error)
		return
	}

	p.mu.Lock()
	replyCh, ok := p.pending[*msg.ID]
	delete(p.pending, *msg.ID)
	p.mu.Unlock()

	if ok {
		replyCh <- msg
	}
}

func (p *Peer) addEvent(name string, payload json.RawMessage) {
	if name == "error" {
		p.tb.Logf("nodepeer: error event from the BullMQ %d peer: %s", p.major, payload)
	}

	// The line buffer is reused by the next read, so keep a copy.
	payload = append(json.RawMessage(nil), payload...)

	p.mu.Lock()
	p.events[name] = append(p.events[name], payload)
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

// RepoRoot returns the nearest directory at or above the working directory that contains
// go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("getting working directory: %w", err)
	}

	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}

		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found in the working directory or its parents")
		}
		dir = parent
	}
}

func describe(err error) string {
	var evalErr *EvalError
	if errors.As(err, &evalErr) && evalErr.Stack != "" {
		return evalErr.Stack
	}
	return err.Error()
}

// logWriter sends each complete line written to it to the test log.
type logWriter struct {
	tb     testing.TB
	prefix string

	mu  sync.Mutex
	buf []byte
}

func (w *logWriter) Write(data []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()

	w.buf = append(w.buf, data...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.tb.Log(w.prefix + string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
	return len(data), nil
}

// flush logs a last line that did not end in a newline.
func (w *logWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()

	if len(w.buf) > 0 {
		w.tb.Log(w.prefix + string(w.buf))
		w.buf = nil
	}
}
