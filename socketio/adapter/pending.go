package adapter

import (
	"sync"
	"time"
)

// pendingRequest is a cluster request waiting for responses.
type pendingRequest struct {
	// typ is the request type, which decides how a response is read.
	typ int

	// onResponse adds one response and reports whether the request is complete. It runs
	// under the registry's lock, so it must not block or call user code.
	onResponse func(map[string]any) bool

	// onDone runs once, after the request left the registry: with nil when complete, with
	// an error wrapping ErrTimeout or ErrClosed otherwise.
	onDone func(error)

	timer *time.Timer
}

// pendingRegistry holds the requests of one adapter by request id. Completion, timeout and
// close race for each request; whichever removes it from the map runs onDone.
type pendingRegistry struct {
	mu       sync.Mutex
	requests map[string]*pendingRequest
	closed   bool
}

func newPendingRegistry() *pendingRegistry {
	return &pendingRegistry{requests: map[string]*pendingRequest{}}
}

// add registers req under id and starts its timeout. It returns false after close.
func (p *pendingRegistry) add(id string, req *pendingRequest, timeout time.Duration,
	timeoutErr func() error,
) bool {
	p.mu.Lock()
	defer p.mu.Unlock()

	if p.closed {
		return false
	}
	p.requests[id] = req
	req.timer = time.AfterFunc(timeout, func() {
		if p.remove(id, req) {
			req.onDone(timeoutErr())
		}
	})
	return true
}

// has reports whether id is a pending request of this adapter.
func (p *pendingRegistry) has(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()

	_, ok := p.requests[id]
	return ok
}

// typeOf returns the type of pending request id.
func (p *pendingRegistry) typeOf(id string) (int, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()

	req, ok := p.requests[id]
	if !ok {
		return 0, false
	}
	return req.typ, true
}

// deliver passes a response to request id, and finishes the request when it is complete.
// It returns false when no such request is pending.
func (p *pendingRegistry) deliver(id string, response map[string]any) bool {
	p.mu.Lock()
	req, ok := p.requests[id]
	if !ok {
		p.mu.Unlock()
		return false
	}
	complete := req.onResponse(response)
	if complete {
		delete(p.requests, id)
		req.timer.Stop()
	}
	p.mu.Unlock()

	if complete {
		req.onDone(nil)
	}
	return true
}

func (p *pendingRegistry) remove(id string, req *pendingRequest) bool {
	p.mu.Lock()
	defer p.mu.Unlock()

	if p.requests[id] != req {
		return false
	}
	delete(p.requests, id)
	return true
}

// close finishes every pending request with err and rejects later ones.
func (p *pendingRegistry) close(err error) {
	p.mu.Lock()
	requests := p.requests
	p.requests = map[string]*pendingRequest{}
	p.closed = true
	p.mu.Unlock()

	for _, req := range requests {
		req.timer.Stop()
		req.onDone(err)
	}
}
