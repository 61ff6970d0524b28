package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
)

// redisLogger receives the log lines of go-redis itself, such as its connection pool's
// dial failures, through redis.SetLogger. It writes them at debug level to the command's
// logger, because the command reports the error that caused them on its own.
type redisLogger struct {
	factory *Factory

	once   sync.Once
	logger *slog.Logger
}

// Printf implements go-redis's Logging interface. The logger is built at the first line,
// after the root flags that set the log level and format are parsed.
func (l *redisLogger) Printf(ctx context.Context, format string, args ...any) {
	l.once.Do(func() {
		// An invalid configuration is reported by the command, and cfg.Logger falls back
		// to info and json for it.
		cfg, _ := l.factory.Config()
		l.logger = cfg.Logger(l.factory.ErrOut)
	})
	l.logger.DebugContext(ctx, "go-redis log line",
		slog.String("line", fmt.Sprintf(format, args...)))
}
