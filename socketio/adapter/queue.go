package adapter

import (
	"context"
	"log/slog"
	"runtime/debug"
	"sync"
)

// queueWarnLength is the backlog at which a queue first logs that it falls behind; it logs
// again each time the backlog doubles.
const queueWarnLength = 1024

// serialQueue runs functions one at a time, in the order they were pushed, on its own
// goroutine. Push never blocks, so the Redis reader can hand work over even while a user
// listener is blocked waiting for a cluster response that only the reader can deliver.
type serialQueue struct {
	name   string
	logger *slog.Logger

	mu      sync.Mutex
	items   []func()
	wake    chan struct{}
	warnAt  int
	stopped bool
	done    chan struct{}
}

func newSerialQueue(name string, logger *slog.Logger) *serialQueue {
	q := &serialQueue{
		name:   name,
		logger: logger,
		wake:   make(chan struct{}, 1),
		warnAt: queueWarnLength,
		done:   make(chan struct{}),
	}
	go q.run()
	return q
}

// push schedules fn. After stop it drops fn.
func (q *serialQueue) push(fn func()) {
	q.mu.Lock()
	if q.stopped {
		q.mu.Unlock()
		return
	}
	q.items = append(q.items, fn)
	backlog := len(q.items)
	warn := backlog >= q.warnAt
	if warn {
		q.warnAt *= 2
	}
	q.mu.Unlock()

	if warn {
		q.logger.WarnContext(context.Background(), "Socket.IO adapter queue is falling behind",
			slog.String("queue", q.name), slog.Int("backlog", backlog))
	}

	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// stop ends the goroutine once the functions already pushed have run, and waits for it.
func (q *serialQueue) stop() {
	q.mu.Lock()
	q.stopped = true
	q.mu.Unlock()

	select {
	case q.wake <- struct{}{}:
	default:
	}
	<-q.done
}

func (q *serialQueue) run() {
	defer close(q.done)

	for {
		q.mu.Lock()
		items := q.items
		q.items = nil
		stopped := q.stopped
		if len(items) == 0 && q.warnAt > queueWarnLength {
			q.warnAt = queueWarnLength
		}
		q.mu.Unlock()

		for _, fn := range items {
			q.call(fn)
		}

		if stopped && len(items) == 0 {
			return
		}
		if len(items) == 0 {
			<-q.wake
		}
	}
}

// call runs fn and logs a panic instead of letting it end the process, because fn may be a
// user's event listener or acknowledgement callback.
func (q *serialQueue) call(fn func()) {
	defer func() {
		if r := recover(); r != nil {
			q.logger.ErrorContext(context.Background(), "Socket.IO adapter callback panicked",
				slog.String("queue", q.name), slog.Any("panic", r),
				slog.String("stack", string(debug.Stack())))
		}
	}()
	fn()
}
