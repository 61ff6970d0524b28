package adapter

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	// healthInterval is how long the subscriber waits for a message before it pings Redis
	// to find out whether the connection is still alive.
	healthInterval = 30 * time.Second

	// minRetryDelay and maxRetryDelay bound the pause between reconnection attempts.
	minRetryDelay = 100 * time.Millisecond
	maxRetryDelay = 5 * time.Second
)

// subscriber reads one Redis pub/sub connection and hands every message to handle, on a
// single goroutine, so messages are handled in the order Redis delivered them. go-redis
// reconnects and subscribes again after a connection loss; the subscriber retries with a
// growing pause and logs the loss and the recovery once each.
type subscriber struct {
	ps     *redis.PubSub
	logger *slog.Logger
	handle func(*redis.Message)

	// expected is the number of subscription confirmations that make the subscriber ready.
	expected int
	ready    chan struct{}

	mu        sync.Mutex
	confirmed int

	cancel context.CancelFunc
	done   chan struct{}
}

// newSubscriber starts reading ps. expected is the number of channels and patterns ps
// subscribes to before the caller waits for it with waitReady.
func newSubscriber(ps *redis.PubSub, expected int, logger *slog.Logger,
	handle func(*redis.Message),
) *subscriber {
	ctx, cancel := context.WithCancel(context.Background())
	s := &subscriber{
		ps:       ps,
		logger:   logger,
		handle:   handle,
		expected: expected,
		ready:    make(chan struct{}),
		cancel:   cancel,
		done:     make(chan struct{}),
	}
	go s.run(ctx)
	return s
}

// waitReady waits until Redis confirmed the initial subscriptions, at most timeout. It
// returns false on timeout; the subscriptions then become active once Redis is reachable.
func (s *subscriber) waitReady(timeout time.Duration) bool {
	timer := time.NewTimer(timeout)
	defer timer.Stop()

	select {
	case <-s.ready:
		return true
	case <-timer.C:
		return false
	}
}

// close stops the reader and closes the connection, which drops its subscriptions.
func (s *subscriber) close() {
	s.cancel()
	_ = s.ps.Close()
	<-s.done
}

func (s *subscriber) run(ctx context.Context) {
	defer close(s.done)

	delay := minRetryDelay
	var lost error
	for {
		msg, err := s.ps.ReceiveTimeout(ctx, healthInterval)
		if ctx.Err() != nil || errors.Is(err, redis.ErrClosed) {
			return
		}

		if isTimeout(err) {
			// Nothing arrived for a while: a ping finds a dead connection, and go-redis
			// replaces it on the next receive.
			err = s.ps.Ping(ctx)
		}
		if err != nil {
			if lost == nil {
				lost = err
				s.logger.WarnContext(ctx, "Redis subscription lost, reconnecting",
					slog.Any("err", err))
			}
			if !sleep(ctx, delay) {
				return
			}
			delay = min(2*delay, maxRetryDelay)
			continue
		}
		delay = minRetryDelay

		switch m := msg.(type) {
		case *redis.Subscription:
			s.confirm(m)
			if lost != nil {
				s.logger.InfoContext(ctx, "Redis subscription restored",
					slog.String("channel", m.Channel))
				lost = nil
			}
		case *redis.Message:
			s.handle(m)
		}
	}
}

func (s *subscriber) confirm(m *redis.Subscription) {
	switch m.Kind {
	case "subscribe", "psubscribe", "ssubscribe":
	default:
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	s.confirmed++
	if s.confirmed == s.expected {
		close(s.ready)
	}
}

func isTimeout(err error) bool {
	var netErr net.Error
	return errors.As(err, &netErr) && netErr.Timeout()
}

// sleep waits for d and returns false if ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()

	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}
