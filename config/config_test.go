package config

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func envFrom(m map[string]string) func(string) string {
	return func(name string) string { return m[name] }
}

func TestLoad_Defaults(t *testing.T) {
	t.Parallel()

	got := Load(envFrom(nil))
	want := Config{
		RedisURL:    "redis://127.0.0.1:6379",
		DatabaseURL: "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
		Prefix:      "bull",
		SocketIOKey: "socket.io",
		LogLevel:    "info",
		LogFormat:   "json",
	}
	if got != want {
		t.Errorf("Load(empty env) = %+v, want %+v", got, want)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
}

func TestLoad_ReadsEnvironment(t *testing.T) {
	t.Parallel()

	got := Load(envFrom(map[string]string{
		"REDIS_URL":           "redis://10.0.0.1:6380/2",
		"DATABASE_URL":        "postgres://crm@db/crm",
		"NIMARA_PREFIX":       "crm",
		"NIMARA_SOCKETIO_KEY": "rt",
		"LOG_LEVEL":           "debug",
		"LOG_FORMAT":          "text",
		"UNRELATED":           "x",
	}))
	want := Config{
		RedisURL:    "redis://10.0.0.1:6380/2",
		DatabaseURL: "postgres://crm@db/crm",
		Prefix:      "crm",
		SocketIOKey: "rt",
		LogLevel:    "debug",
		LogFormat:   "text",
	}
	if got != want {
		t.Errorf("Load = %+v, want %+v", got, want)
	}
}

func TestLoad_BlankValueUsesDefault(t *testing.T) {
	t.Parallel()

	got := Load(envFrom(map[string]string{"NIMARA_PREFIX": "  "}))
	if got.Prefix != DefaultPrefix {
		t.Errorf("Prefix = %q, want the default %q", got.Prefix, DefaultPrefix)
	}
}

func TestConfig_Validate(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		modify  func(*Config)
		wantErr string // empty: valid
	}{
		{name: "Defaults", modify: func(*Config) {}},
		{name: "Rediss", modify: func(c *Config) { c.RedisURL = "rediss://h:6379/0" }},
		{name: "UnixSocket", modify: func(c *Config) { c.RedisURL = "unix:///run/redis.sock" }},
		{
			name:    "RedisSchemeWrong",
			modify:  func(c *Config) { c.RedisURL = "http://127.0.0.1:6379" },
			wantErr: `invalid REDIS_URL or --redis-url "http://127.0.0.1:6379": unsupported scheme "http"`,
		},
		{
			name:    "RedisHostMissing",
			modify:  func(c *Config) { c.RedisURL = "redis://" },
			wantErr: "missing host",
		},
		{name: "PostgresqlScheme", modify: func(c *Config) { c.DatabaseURL = "postgresql://h/db" }},
		{
			name:   "KeywordValueDSN",
			modify: func(c *Config) { c.DatabaseURL = "host=127.0.0.1 user=postgres" },
		},
		{
			name:    "DatabaseSchemeWrong",
			modify:  func(c *Config) { c.DatabaseURL = "mysql://root:secret@h/db" },
			wantErr: `invalid DATABASE_URL or --database-url: unsupported scheme "mysql"`,
		},
		{
			name:    "DatabaseNotURL",
			modify:  func(c *Config) { c.DatabaseURL = "localhost" },
			wantErr: "use a postgres:// URL or a keyword/value string",
		},
		{
			name:    "PrefixEmpty",
			modify:  func(c *Config) { c.Prefix = "" },
			wantErr: `invalid NIMARA_PREFIX or --prefix "": must not be empty`,
		},
		{
			name:    "PrefixWithSpace",
			modify:  func(c *Config) { c.Prefix = "my prefix" },
			wantErr: "must not contain white space",
		},
		{
			name:    "SocketIOKeyEmpty",
			modify:  func(c *Config) { c.SocketIOKey = " " },
			wantErr: "invalid NIMARA_SOCKETIO_KEY: must not be empty",
		},
		{name: "LevelUpperCase", modify: func(c *Config) { c.LogLevel = "WARN" }},
		{
			name:    "LevelUnknown",
			modify:  func(c *Config) { c.LogLevel = "verbose" },
			wantErr: `invalid LOG_LEVEL or --log-level: unknown log level "verbose"`,
		},
		{
			name:    "FormatUnknown",
			modify:  func(c *Config) { c.LogFormat = "yaml" },
			wantErr: `invalid LOG_FORMAT or --log-format: unknown log format "yaml"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			c := Load(envFrom(nil))
			tt.modify(&c)
			err := c.Validate()

			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error containing %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Validate() = %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestConfig_ValidateHidesDatabasePassword(t *testing.T) {
	t.Parallel()

	c := Load(envFrom(map[string]string{"DATABASE_URL": "mysql://root:hunter2@h/db"}))
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate() = nil, want an error for the mysql scheme")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Validate() = %q, which contains the password", err)
	}
}

func TestConfig_ValidateJoinsAllProblems(t *testing.T) {
	t.Parallel()

	c := Config{}
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate() of a zero Config = nil, want errors")
	}
	for _, name := range []string{EnvRedisURL, EnvDatabaseURL, EnvPrefix, EnvSocketIOKey,
		EnvLogLevel, EnvLogFormat} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("Validate() = %q, want it to name %s", err, name)
		}
	}
}

func TestConfig_LoggerJSON(t *testing.T) {
	t.Parallel()

	var buf bytes.Buffer
	logger := Config{LogLevel: "warn", LogFormat: "json"}.Logger(&buf)
	logger.Info("hidden")
	logger.Warn("shown", slog.String("queue", "email"))

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("logged %d lines, want 1 (info is below warn): %q", len(lines), buf.String())
	}

	var record map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &record); err != nil {
		t.Fatalf("log line is not JSON: %v: %q", err, lines[0])
	}
	if record["msg"] != "shown" {
		t.Errorf("msg = %v, want shown", record["msg"])
	}
	if record["queue"] != "email" {
		t.Errorf("queue = %v, want email", record["queue"])
	}
}

func TestConfig_LoggerText(t *testing.T) {
	t.Parallel()

	var buf bytes.Buffer
	logger := Config{LogLevel: "debug", LogFormat: "text"}.Logger(&buf)
	logger.Debug("picked up", slog.String("job_id", "7"))

	if !strings.Contains(buf.String(), `msg="picked up" job_id=7`) {
		t.Errorf("text output = %q, want msg and job_id in key=value form", buf.String())
	}
}

func TestConfig_LoggerDurationsAsStrings(t *testing.T) {
	t.Parallel()

	var jsonBuf bytes.Buffer
	Config{LogLevel: "info", LogFormat: "json"}.Logger(&jsonBuf).Info("stopping",
		slog.Duration("shutdown_timeout", 30*time.Second),
		slog.Group("job", slog.Duration("delay", 1500*time.Millisecond)),
		slog.Any("lock_duration", 2*time.Minute))

	var record map[string]any
	if err := json.Unmarshal(jsonBuf.Bytes(), &record); err != nil {
		t.Fatalf("log line is not JSON: %v: %q", err, jsonBuf.String())
	}
	if record["shutdown_timeout"] != "30s" {
		t.Errorf("JSON shutdown_timeout = %v, want \"30s\"", record["shutdown_timeout"])
	}
	if job, _ := record["job"].(map[string]any); job["delay"] != "1.5s" {
		t.Errorf("JSON job.delay = %v, want \"1.5s\"", record["job"])
	}
	if record["lock_duration"] != "2m0s" {
		t.Errorf("JSON lock_duration = %v, want \"2m0s\"", record["lock_duration"])
	}

	var textBuf bytes.Buffer
	Config{LogLevel: "info", LogFormat: "text"}.Logger(&textBuf).Info("stopping",
		slog.Duration("shutdown_timeout", 30*time.Second))
	if !strings.Contains(textBuf.String(), "shutdown_timeout=30s") {
		t.Errorf("text output = %q, want shutdown_timeout=30s", textBuf.String())
	}
}

func TestParseLogLevel(t *testing.T) {
	t.Parallel()

	tests := []struct {
		in   string
		want slog.Level
	}{
		{"debug", slog.LevelDebug},
		{"INFO", slog.LevelInfo},
		{"warn", slog.LevelWarn},
		{"warning", slog.LevelWarn},
		{" error ", slog.LevelError},
	}
	for _, tt := range tests {
		got, err := ParseLogLevel(tt.in)
		if err != nil {
			t.Errorf("ParseLogLevel(%q) error = %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseLogLevel(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}

	if _, err := ParseLogLevel("trace"); err == nil {
		t.Error("ParseLogLevel(trace) = nil error, want an error")
	}
}
