package adapter

import (
	"sync"
	"time"

	"github.com/zishang520/socket.io/v2/socket"
)

// ackRequest is a broadcast with acknowledgements that this server published: the
// socket.io layer's callbacks for the client count of each server and for each client's
// acknowledgement.
//
// NOTE: BroadcastOperator.Emit of zishang520/socket.io v2.5.0 stores the server count in a
// plain variable after BroadcastWithAck returns, while these callbacks read it from the
// adapter's goroutine, so the race detector reports a data race there. Local client
// acknowledgements race with it the same way without this adapter.
type ackRequest struct {
	clientCount func(uint64)
	ack         socket.Ack

	// single is set for RemoteSocket.Emit with an acknowledgement. The zishang520 broadcast
	// operator then passes the first response to the caller as the argument list, so each
	// remote value is wrapped in a list of its own.
	single bool
}

// ackRegistry holds the acknowledged broadcasts of one adapter. Like the Node adapters, it
// deletes a request after its timeout, because it cannot know when every client responded.
type ackRegistry struct {
	mu       sync.Mutex
	requests map[string]*ackRequest
}

func newAckRegistry() *ackRegistry {
	return &ackRegistry{requests: map[string]*ackRequest{}}
}

func (r *ackRegistry) add(id string, req *ackRequest, timeout time.Duration) {
	r.mu.Lock()
	r.requests[id] = req
	r.mu.Unlock()

	time.AfterFunc(timeout, func() {
		r.mu.Lock()
		delete(r.requests, id)
		r.mu.Unlock()
	})
}

func (r *ackRegistry) get(id string) (*ackRequest, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()

	req, ok := r.requests[id]
	return req, ok
}

// reportCount passes the number of clients a remote server delivered to, and returns false
// when the value is not a count.
func (req *ackRequest) reportCount(v any) bool {
	n, ok := intValue(v)
	if !ok || n < 0 {
		return false
	}
	req.clientCount(uint64(n))
	return true
}

// reportAck passes one remote client's acknowledgement value to the caller.
func (req *ackRequest) reportAck(value any) {
	if req.single {
		req.ack([]any{[]any{value}}, nil)
		return
	}
	req.ack([]any{value}, nil)
}
