package adapter_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/portnimara/nimara/socketio/internal/siotest"
)

// deadline bounds every wait of these tests; reaching it fails the test.
const deadline = 20 * time.Second

// peerEvent is one event line of interop/js/sio-adapter-peer.mjs.
type peerEvent struct {
	Name    string          `json:"event"`
	Payload json.RawMessage `json:"payload"`
}

// clientEvent is the payload of a "client" event: what one client received.
type clientEvent struct {
	Client string          `json:"client"`
	Event  string          `json:"event"`
	Args   json.RawMessage `json:"args"`
}

type peerReply struct {
	ID     int64           `json:"id"`
	OK     bool            `json:"ok"`
	Result json.RawMessage `json:"result"`
	Error  string          `json:"error"`
	Event  string          `json:"event"`
}

// nodePeer is a running sio-adapter-peer.mjs process.
type nodePeer struct {
	t     *testing.T
	stdin io.WriteCloser

	mu      sync.Mutex
	nextID  int64
	pending map[int64]chan peerReply
	events  []peerEvent
	changed chan struct{}
	exited  bool

	cursor int // index of the next event next returns; used by the test goroutine only
}

// startPeer runs the peer with REDIS_URL set and stops it when the test ends.
func startPeer(t *testing.T) *nodePeer {
	t.Helper()

	dir := siotest.InteropDir(t, "@socket.io/redis-adapter")
	cmd := exec.Command("node", filepath.Join("js", "sio-adapter-peer.mjs"))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "REDIS_URL="+siotest.RedisURL())
	cmd.Stderr = siotest.NewLogWriter(t, "node: ")
	cmd.WaitDelay = 10 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatalf("stdin pipe: %v", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("stdout pipe: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node: %v", err)
	}

	p := &nodePeer{
		t: t, stdin: stdin, pending: map[int64]chan peerReply{}, changed: make(chan struct{}),
	}
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		p.read(stdout)
	}()
	t.Cleanup(func() {
		_ = stdin.Close()
		select {
		case <-readerDone:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-readerDone
		}
		_ = cmd.Wait()
	})

	p.waitFor(t, func(e peerEvent) bool { return e.Name == "ready" })
	return p
}

func (p *nodePeer) read(stdout io.Reader) {
	scanner := bufio.NewScanner(stdout)
	scanner.Buffer(make([]byte, 1<<20), 1<<26)
	for scanner.Scan() {
		var reply peerReply
		if err := json.Unmarshal(scanner.Bytes(), &reply); err != nil {
			continue
		}
		p.mu.Lock()
		if reply.Event != "" {
			var ev peerEvent
			_ = json.Unmarshal(scanner.Bytes(), &ev)
			p.events = append(p.events, ev)
			close(p.changed)
			p.changed = make(chan struct{})
		} else if ch, ok := p.pending[reply.ID]; ok {
			delete(p.pending, reply.ID)
			ch <- reply
		}
		p.mu.Unlock()
	}

	p.mu.Lock()
	p.exited = true
	for id, ch := range p.pending {
		delete(p.pending, id)
		ch <- peerReply{Error: "node peer exited"}
	}
	close(p.changed)
	p.mu.Unlock()
}

// evalErr runs code in the peer and returns its result or the JavaScript error.
func (p *nodePeer) evalErr(code string, args any) (json.RawMessage, error) {
	p.mu.Lock()
	if p.exited {
		p.mu.Unlock()
		return nil, fmt.Errorf("node peer exited")
	}
	p.nextID++
	id := p.nextID
	ch := make(chan peerReply, 1)
	p.pending[id] = ch
	p.mu.Unlock()

	line, err := json.Marshal(map[string]any{"id": id, "code": code, "args": args})
	if err != nil {
		return nil, fmt.Errorf("encode eval: %w", err)
	}
	if _, err := p.stdin.Write(append(line, '\n')); err != nil {
		return nil, fmt.Errorf("write to node: %w", err)
	}

	select {
	case reply := <-ch:
		if !reply.OK {
			return nil, fmt.Errorf("node: %s", reply.Error)
		}
		return reply.Result, nil
	case <-time.After(deadline):
		return nil, fmt.Errorf("node did not answer within %s: %s", deadline, code)
	}
}

// eval runs code in the peer and fails the test on a JavaScript error.
func (p *nodePeer) eval(t *testing.T, code string, args any) json.RawMessage {
	t.Helper()
	result, err := p.evalErr(code, args)
	if err != nil {
		t.Fatalf("eval: %v", err)
	}
	return result
}

// evalInto runs code and decodes its result into out.
func (p *nodePeer) evalInto(t *testing.T, out any, code string, args any) {
	t.Helper()
	result := p.eval(t, code, args)
	if err := json.Unmarshal(result, out); err != nil {
		t.Fatalf("decode result %s: %v", result, err)
	}
}

// next returns the next event after the cursor, waiting at most deadline.
func (p *nodePeer) next(t *testing.T) peerEvent {
	t.Helper()
	timeout := time.After(deadline)
	for {
		p.mu.Lock()
		if p.cursor < len(p.events) {
			ev := p.events[p.cursor]
			p.cursor++
			p.mu.Unlock()
			return ev
		}
		changed, exited := p.changed, p.exited
		p.mu.Unlock()
		if exited {
			t.Fatal("node peer exited")
		}
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("no event from node within %s", deadline)
		}
	}
}

// waitFor reads events until match returns true, and returns the events read before it.
func (p *nodePeer) waitFor(t *testing.T, match func(peerEvent) bool) []peerEvent {
	t.Helper()
	var before []peerEvent
	for {
		ev := p.next(t)
		if match(ev) {
			return before
		}
		before = append(before, ev)
	}
}

// clientEvents returns the client events among events, in order.
func clientEvents(t *testing.T, events []peerEvent) []clientEvent {
	t.Helper()
	var out []clientEvent
	for _, ev := range events {
		if ev.Name != "client" {
			continue
		}
		var ce clientEvent
		if err := json.Unmarshal(ev.Payload, &ce); err != nil {
			t.Fatalf("decode client event %s: %v", ev.Payload, err)
		}
		out = append(out, ce)
	}
	return out
}
