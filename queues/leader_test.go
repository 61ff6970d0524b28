package queues

import (
	"context"
	"testing"
	"time"

	"github.com/portnimara/nimara/internal/redistest"
)

func TestElector_OneLeaderThenTakeover(t *testing.T) {
	t.Parallel()

	client := redistest.Client(t)
	prefix := redistest.Prefix(t)
	a := NewElector(client, prefix, "test", 300*time.Millisecond, nil)
	b := NewElector(client, prefix, "test", 300*time.Millisecond, nil)

	ctxA, stopA := context.WithCancel(context.Background())
	doneA := make(chan struct{})
	go func() { a.Run(ctxA); close(doneA) }()
	waitFor(t, 10*time.Second, "a to lead", a.IsLeader)

	ctxB, stopB := context.WithCancel(context.Background())
	doneB := make(chan struct{})
	go func() { b.Run(ctxB); close(doneB) }()
	t.Cleanup(func() { stopB(); <-doneB })

	// b campaigns at least twice while a holds the lease.
	for range 3 {
		b.renew(context.Background())
		if b.IsLeader() {
			t.Fatal("b leads while a holds the lease")
		}
	}

	stopA()
	<-doneA
	if a.IsLeader() {
		t.Error("a still leads after it stopped")
	}
	waitFor(t, 10*time.Second, "b to take over", b.IsLeader)
}
