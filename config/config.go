// Package config reads and validates the settings shared by every nimara command: where
// Redis and PostgreSQL are, the BullMQ key prefix, the Socket.IO emitter key, and how to log.
//
// Values come from the environment; the commands apply their flags on top, so a flag always
// wins over its variable. The package uses only the standard library.
package config

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
)

// Environment variable names read by Load.
const (
	EnvRedisURL    = "REDIS_URL"
	EnvDatabaseURL = "DATABASE_URL"
	EnvPrefix      = "NIMARA_PREFIX"
	EnvSocketIOKey = "NIMARA_SOCKETIO_KEY"
	EnvLogLevel    = "LOG_LEVEL"
	EnvLogFormat   = "LOG_FORMAT"
)

// Defaults used when a variable is unset or empty.
const (
	DefaultRedisURL    = "redis://127.0.0.1:6379"
	DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	DefaultPrefix      = "bull"
	DefaultSocketIOKey = "socket.io"
	DefaultLogLevel    = "info"
	DefaultLogFormat   = "json"
)

// Log formats accepted by LogFormat.
const (
	LogFormatJSON = "json"
	LogFormatText = "text"
)

// Config is the resolved configuration of a nimara process. Fields hold the raw text of the
// setting; Validate checks them.
type Config struct {
	// RedisURL is the Redis server, as redis://, rediss:// or unix:// URL.
	// Default redis://127.0.0.1:6379.
	RedisURL string
	// DatabaseURL is the PostgreSQL server, as a postgres:// URL or a keyword/value string.
	// Default postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable.
	DatabaseURL string
	// Prefix is the first part of every BullMQ key; it must match the Node app's prefix
	// option. Default "bull".
	Prefix string
	// SocketIOKey is the channel prefix of the Socket.IO Redis emitter; it must match the
	// key option of the Node app's Redis adapter. Default "socket.io".
	SocketIOKey string
	// LogLevel is debug, info, warn or error. Default info.
	LogLevel string
	// LogFormat is json or text. Default json.
	LogFormat string
}

// Load reads the configuration from the environment through getenv (os.Getenv in
// production), filling defaults for unset or empty variables. It does not validate.
func Load(getenv func(string) string) Config {
	read := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}

	return Config{
		RedisURL:    read(EnvRedisURL, DefaultRedisURL),
		DatabaseURL: read(EnvDatabaseURL, DefaultDatabaseURL),
		Prefix:      read(EnvPrefix, DefaultPrefix),
		SocketIOKey: read(EnvSocketIOKey, DefaultSocketIOKey),
		LogLevel:    read(EnvLogLevel, DefaultLogLevel),
		LogFormat:   read(EnvLogFormat, DefaultLogFormat),
	}
}

// Validate checks every field and returns all problems joined, each naming the variable and
// the flag that set it.
func (c Config) Validate() error {
	var errs []error

	if err := validateRedisURL(c.RedisURL); err != nil {
		errs = append(errs, fmt.Errorf("invalid %s or --redis-url %q: %w", EnvRedisURL,
			c.RedisURL, err))
	}
	if err := validateDatabaseURL(c.DatabaseURL); err != nil {
		errs = append(errs, fmt.Errorf("invalid %s or --database-url: %w", EnvDatabaseURL, err))
	}
	if err := validatePrefix(c.Prefix); err != nil {
		errs = append(errs, fmt.Errorf("invalid %s or --prefix %q: %w", EnvPrefix, c.Prefix, err))
	}
	if strings.TrimSpace(c.SocketIOKey) == "" {
		errs = append(errs, fmt.Errorf("invalid %s: must not be empty", EnvSocketIOKey))
	}
	if _, err := ParseLogLevel(c.LogLevel); err != nil {
		errs = append(errs, fmt.Errorf("invalid %s or --log-level: %w", EnvLogLevel, err))
	}
	if err := validateLogFormat(c.LogFormat); err != nil {
		errs = append(errs, fmt.Errorf("invalid %s or --log-format: %w", EnvLogFormat, err))
	}

	return errors.Join(errs...)
}

// Logger builds the process logger writing to w with the configured level and format. It
// falls back to info and json for values that Validate would reject.
func (c Config) Logger(w io.Writer) *slog.Logger {
	level, err := ParseLogLevel(c.LogLevel)
	if err != nil {
		level = slog.LevelInfo
	}
	return NewLogger(w, level, c.LogFormat)
}

// NewLogger returns a logger writing to w at level, as text when format is "text" and as
// JSON otherwise. Durations are written as Go duration strings such as "30s" in both
// formats.
func NewLogger(w io.Writer, level slog.Level, format string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: durationAsString}
	if strings.EqualFold(format, LogFormatText) {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// durationAsString is a slog ReplaceAttr function that turns a duration value into its
// String form. Without it the JSON handler writes a duration as integer nanoseconds.
func durationAsString(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}

// ParseLogLevel converts debug, info, warn or error (any case) to a slog.Level.
func ParseLogLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("unknown log level %q: use debug, info, warn or error", s)
}

func validateLogFormat(s string) error {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case LogFormatJSON, LogFormatText:
		return nil
	}
	return fmt.Errorf("unknown log format %q: use json or text", s)
}

func validateRedisURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("not a URL: %w", err)
	}

	switch u.Scheme {
	case "redis", "rediss":
		if u.Host == "" {
			return errors.New("missing host: use redis://HOST:PORT/DB")
		}
	case "unix":
		if u.Path == "" {
			return errors.New("missing socket path: use unix:///path/to/redis.sock")
		}
	default:
		return fmt.Errorf("unsupported scheme %q: use redis, rediss or unix", u.Scheme)
	}
	return nil
}

// validateDatabaseURL accepts the two forms pgx parses: a postgres:// or postgresql:// URL,
// and a keyword/value string such as "host=127.0.0.1 user=postgres". Error messages leave
// the value out because it may contain a password.
func validateDatabaseURL(s string) error {
	if !strings.Contains(s, "://") {
		if strings.Contains(s, "=") {
			return nil
		}
		return errors.New("use a postgres:// URL or a keyword/value string such as " +
			"\"host=127.0.0.1 user=postgres dbname=postgres\"")
	}

	u, err := url.Parse(s)
	if err != nil {
		return errors.New("the URL does not parse")
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return fmt.Errorf("unsupported scheme %q: use postgres or postgresql", u.Scheme)
	}
	return nil
}

func validatePrefix(s string) error {
	if s == "" {
		return errors.New("must not be empty")
	}
	if strings.ContainsAny(s, " \t\r\n") {
		return errors.New("must not contain white space")
	}
	return nil
}
