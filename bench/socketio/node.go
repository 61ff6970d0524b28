package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"
)

// evalTimeout bounds one evaluation in a Node peer.
const evalTimeout = 2 * time.Minute

// nodePeer is a running interop/js/sio-adapter-peer.mjs, which evaluates JavaScript sent
// as one JSON line per request.
type nodePeer struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser

	mu      sync.Mutex
	nextID  int64
	pending map[int64]chan peerReply
}

type peerReply struct {
	ID     int64           `json:"id"`
	OK     bool            `json:"ok"`
	Result json.RawMessage `json:"result"`
	Error  string          `json:"error"`
	Event  string          `json:"event"`
}

// startPeer runs the peer from root with REDIS_URL set and waits until it is ready.
func startPeer(root, nodeBin, redisURL string) (*nodePeer, error) {
	cmd := exec.Command(nodeBin, filepath.Join("js", "sio-adapter-peer.mjs"))
	cmd.Dir = filepath.Join(root, "interop")
	cmd.Env = append(os.Environ(), "REDIS_URL="+redisURL)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("creating stdin pipe: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("creating stdout pipe: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting node: %w", err)
	}

	p := &nodePeer{cmd: cmd, stdin: stdin, pending: map[int64]chan peerReply{}}
	ready := make(chan struct{})
	go p.read(stdout, ready)

	select {
	case <-ready:
		return p, nil
	case <-time.After(evalTimeout):
		p.close()
		return nil, errors.New("node peer did not start")
	}
}

func (p *nodePeer) read(stdout io.Reader, ready chan struct{}) {
	scanner := bufio.NewScanner(stdout)
	scanner.Buffer(make([]byte, 1<<20), 1<<26)
	for scanner.Scan() {
		var reply peerReply
		if json.Unmarshal(scanner.Bytes(), &reply) != nil {
			continue
		}
		if reply.Event == "ready" {
			close(ready)
			continue
		}
		if reply.Event != "" {
			continue
		}

		p.mu.Lock()
		ch, ok := p.pending[reply.ID]
		delete(p.pending, reply.ID)
		p.mu.Unlock()
		if ok {
			ch <- reply
		}
	}
}

// eval runs code with args in the peer and decodes its result into out (when not nil).
func (p *nodePeer) eval(out any, code string, args any) error {
	p.mu.Lock()
	p.nextID++
	id := p.nextID
	ch := make(chan peerReply, 1)
	p.pending[id] = ch
	p.mu.Unlock()

	line, err := json.Marshal(map[string]any{"id": id, "code": code, "args": args})
	if err != nil {
		return fmt.Errorf("encoding eval: %w", err)
	}
	if _, err := p.stdin.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("writing to node: %w", err)
	}

	select {
	case reply := <-ch:
		if !reply.OK {
			return fmt.Errorf("node: %s", reply.Error)
		}
		if out == nil {
			return nil
		}
		return json.Unmarshal(reply.Result, out)
	case <-time.After(evalTimeout):
		return fmt.Errorf("node did not respond within %s", evalTimeout)
	}
}

// close ends the peer: closing stdin makes it close its servers and clients and exit.
func (p *nodePeer) close() {
	_ = p.stdin.Close()
	done := make(chan struct{})
	go func() {
		_ = p.cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}
