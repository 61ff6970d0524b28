package main

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portnimara/nimara/bullmq"
)

func TestNewCmdWorker_ParsesFlags(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		args []string
		want WorkerOptions
	}{
		{
			name: "Defaults",
			args: nil,
			want: WorkerOptions{Queues: []string{"notifications"},
				ShutdownTimeout: 30 * time.Second, LockDuration: 30 * time.Second,
				StalledInterval: 30 * time.Second},
		},
		{
			name: "AllFlags",
			args: []string{"--queues", "notifications", "--concurrency", "notifications=20",
				"--shutdown-timeout", "5s", "--lock-duration", "2s", "--stalled-interval", "1s"},
			want: WorkerOptions{Queues: []string{"notifications"},
				Concurrency:     map[string]int{"notifications": 20},
				ShutdownTimeout: 5 * time.Second, LockDuration: 2 * time.Second,
				StalledInterval: time.Second},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			f, _, _ := testFactory(nil)
			var got *WorkerOptions
			cmd := newCmdWorker(f, func(_ context.Context, o *WorkerOptions) error {
				got = o
				return nil
			})
			cmd.SetArgs(tt.args)
			if err := cmd.Execute(); err != nil {
				t.Fatalf("Execute(%v) error = %v", tt.args, err)
			}

			if !slices.Equal(got.Queues, tt.want.Queues) {
				t.Errorf("Queues = %v, want %v", got.Queues, tt.want.Queues)
			}
			if !maps.Equal(got.Concurrency, tt.want.Concurrency) {
				t.Errorf("Concurrency = %v, want %v", got.Concurrency, tt.want.Concurrency)
			}
			if got.ShutdownTimeout != tt.want.ShutdownTimeout {
				t.Errorf("ShutdownTimeout = %s, want %s", got.ShutdownTimeout,
					tt.want.ShutdownTimeout)
			}
			if got.LockDuration != tt.want.LockDuration {
				t.Errorf("LockDuration = %s, want %s", got.LockDuration, tt.want.LockDuration)
			}
			if got.StalledInterval != tt.want.StalledInterval {
				t.Errorf("StalledInterval = %s, want %s", got.StalledInterval,
					tt.want.StalledInterval)
			}
		})
	}
}

func TestNewCmdWorker_RejectsBadQueues(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"UnknownQueue", []string{"--queues", "mail"}, `unknown queue "mail"`},
		{"QueueWithoutHandlers", []string{"--queues", "email"},
			`queue "email" has no handlers in this build`},
		{"ConcurrencyOtherQueue", []string{"--concurrency", "email=2"},
			`--concurrency names queue "email", which is not in --queues`},
		{"ConcurrencyZero", []string{"--concurrency", "notifications=0"},
			"invalid --concurrency notifications=0"},
		{"NegativeTimeout", []string{"--shutdown-timeout", "-1s"},
			"invalid --shutdown-timeout -1s"},
		{"Argument", []string{"extra"}, `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			f, _, _ := testFactory(nil)
			cmd := newCmdWorker(f, func(context.Context, *WorkerOptions) error {
				t.Error("runF called for invalid flags")
				return nil
			})
			checkUsageError(t, cmd, tt.args, tt.wantErr)
		})
	}
}

func TestNewCmdJobsAdd_ParsesFlags(t *testing.T) {
	t.Parallel()

	f, _, _ := testFactory(nil)
	var got *JobsAddOptions
	cmd := newCmdJobsAdd(f, func(_ context.Context, o *JobsAddOptions) error {
		got = o
		return nil
	})
	data := `{"userId":"u1","type":"welcome","title":"Hi"}`
	cmd.SetArgs([]string{"notifications", "create", "--data", data,
		"--opts", `{"jobId":"j1","delay":500,"attempts":7}`, "--json"})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("Execute() error = %v", err)
	}

	if got.Queue != "notifications" {
		t.Errorf("Queue = %q, want notifications", got.Queue)
	}
	if got.Name != "create" {
		t.Errorf("Name = %q, want create", got.Name)
	}
	if string(got.Data) != data {
		t.Errorf("Data = %s, want the --data text", got.Data)
	}
	if got.Opts.JobID != "j1" {
		t.Errorf("Opts.JobID = %q, want j1", got.Opts.JobID)
	}
	if got.Opts.Delay != 500*time.Millisecond {
		t.Errorf("Opts.Delay = %s, want 500ms", got.Opts.Delay)
	}
	if got.Opts.Attempts != 7 {
		t.Errorf("Opts.Attempts = %d, want 7 from --opts", got.Opts.Attempts)
	}
	if !got.JSON {
		t.Error("JSON = false, want true")
	}
}

func TestNewCmdJobsAdd_AcceptsJobWithoutDecoder(t *testing.T) {
	t.Parallel()

	// The catalog lists reminder-check without a handler in this build, so any JSON data
	// passes.
	f, _, _ := testFactory(nil)
	var got *JobsAddOptions
	cmd := newCmdJobsAdd(f, func(_ context.Context, o *JobsAddOptions) error {
		got = o
		return nil
	})
	cmd.SetArgs([]string{"notifications", "reminder-check", "--data", `{"any":[1,2]}`})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("Execute() error = %v", err)
	}
	if string(got.Data) != `{"any":[1,2]}` {
		t.Errorf("Data = %s, want the --data text", got.Data)
	}
}

func TestNewCmdJobsAdd_DefaultsFromCatalog(t *testing.T) {
	t.Parallel()

	f, _, _ := testFactory(nil)
	var got *JobsAddOptions
	cmd := newCmdJobsAdd(f, func(_ context.Context, o *JobsAddOptions) error {
		got = o
		return nil
	})
	cmd.SetArgs([]string{"email", "send"})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("Execute() error = %v", err)
	}

	if string(got.Data) != "{}" {
		t.Errorf("Data = %s, want {}", got.Data)
	}
	want := bullmq.JobOpts{Attempts: 5}
	if got.Opts.Attempts != want.Attempts {
		t.Errorf("Opts.Attempts = %d, want the email queue's %d", got.Opts.Attempts,
			want.Attempts)
	}
}

func TestNewCmdJobsAdd_RejectsBadInput(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"OneArgument", []string{"notifications"}, "expected 2 arguments"},
		{"UnknownQueue", []string{"mail", "send"}, `unknown queue "mail"`},
		{"DataNotJSON", []string{"email", "send", "--data", "{x"}, "invalid --data: not valid"},
		{"UnknownOption", []string{"email", "send", "--opts", `{"repeat":{}}`},
			`invalid --opts: bullmq: unknown job option "repeat"`},
		{"WrongOptionType", []string{"email", "send", "--opts", `{"attempts":"3"}`},
			"invalid job option attempts: must be a number, got a string"},
		{"UnknownJobName", []string{"notifications", "nosuchname", "--data", "{}"},
			`unknown job name "nosuchname" for queue notifications: use one of `},
		{"JobNameOfOtherQueue", []string{"email", "create"},
			`unknown job name "create" for queue email`},
		{"DataMissingFields", []string{"notifications", "create", "--data", "{}"},
			"--data for job create of queue notifications: invalid job data: userId"},
		{"DataWrongType", []string{"notifications", "create", "--data", `{"userId":1}`},
			"--data for job create of queue notifications: invalid job data: userId must be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			f, _, _ := testFactory(nil)
			cmd := newCmdJobsAdd(f, func(context.Context, *JobsAddOptions) error {
				t.Error("runF called for invalid input")
				return nil
			})
			checkUsageError(t, cmd, tt.args, tt.wantErr)
		})
	}
}

func TestNewCmdMigrate_ParsesCheck(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		args     []string
		want     bool
		wantJSON bool
	}{
		{nil, false, false},
		{[]string{"--check"}, true, false},
		{[]string{"--check", "--json"}, true, true},
		{[]string{"--json"}, false, true},
	} {
		f, _, _ := testFactory(nil)
		var got *MigrateOptions
		cmd := newCmdMigrate(f, func(_ context.Context, o *MigrateOptions) error {
			got = o
			return nil
		})
		cmd.SetArgs(tt.args)
		if err := cmd.Execute(); err != nil {
			t.Fatalf("Execute(%v) error = %v", tt.args, err)
		}
		if got.Check != tt.want {
			t.Errorf("Execute(%v): Check = %v, want %v", tt.args, got.Check, tt.want)
		}
		if got.JSON != tt.wantJSON {
			t.Errorf("Execute(%v): JSON = %v, want %v", tt.args, got.JSON, tt.wantJSON)
		}
	}
}

func TestFactory_FlagsOverrideEnvironment(t *testing.T) {
	t.Parallel()

	f, _, _ := testFactory(map[string]string{
		"REDIS_URL":     "redis://10.0.0.1:6379",
		"NIMARA_PREFIX": "env-prefix",
		"LOG_LEVEL":     "warn",
	})
	root := newCmdRoot(f)
	err := root.PersistentFlags().Parse([]string{"--prefix", "flag-prefix",
		"--database-url", "postgres://flag@127.0.0.1/db", "--log-format", "text"})
	if err != nil {
		t.Fatalf("parse flags: %v", err)
	}

	cfg, err := f.Config()
	if err != nil {
		t.Fatalf("Config() error = %v", err)
	}
	if cfg.Prefix != "flag-prefix" {
		t.Errorf("Prefix = %q, want the flag's flag-prefix", cfg.Prefix)
	}
	if cfg.DatabaseURL != "postgres://flag@127.0.0.1/db" {
		t.Errorf("DatabaseURL = %q, want the flag's", cfg.DatabaseURL)
	}
	if cfg.LogFormat != "text" {
		t.Errorf("LogFormat = %q, want the flag's text", cfg.LogFormat)
	}
	if cfg.RedisURL != "redis://10.0.0.1:6379" {
		t.Errorf("RedisURL = %q, want the environment's", cfg.RedisURL)
	}
	if cfg.LogLevel != "warn" {
		t.Errorf("LogLevel = %q, want the environment's warn", cfg.LogLevel)
	}
	if cfg.SocketIOKey != "socket.io" {
		t.Errorf("SocketIOKey = %q, want the default socket.io", cfg.SocketIOKey)
	}
}

func TestRun_ExitCodes(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name       string
		env        map[string]string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{"Help", nil, []string{"--help"}, 0, ""},
		{"UnknownCommand", nil, []string{"serve"}, 2, `unknown command "serve"`},
		{"UnknownJobsCommand", nil, []string{"jobs", "list"}, 2, `unknown command "list"`},
		{"WorkerBadFlag", nil, []string{"worker", "--bogus"}, 2, "unknown flag: --bogus"},
		{"WorkerBadDuration", nil, []string{"worker", "--shutdown-timeout", "soon"}, 2,
			`invalid argument "soon"`},
		{"WorkerBadConcurrency", nil, []string{"worker", "--concurrency", "notifications"},
			2, "--concurrency"},
		{"WorkerUnknownQueue", nil, []string{"worker", "--queues", "mail"}, 2,
			`unknown queue "mail"`},
		{"JobsAddMissingName", nil, []string{"jobs", "add", "email"}, 2,
			"expected 2 arguments"},
		{"MigrateBadFlag", nil, []string{"migrate", "--chek"}, 2, "unknown flag: --chek"},
		{"BadLogLevelFlag", nil, []string{"--log-level", "loud", "migrate"}, 2,
			`unknown log level "loud"`},
		{"BadLogLevelEnv", map[string]string{"LOG_LEVEL": "loud"}, []string{"migrate"}, 1,
			"invalid LOG_LEVEL"},
		{"DatabaseDown", map[string]string{
			"DATABASE_URL": "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=2",
		}, []string{"migrate"}, 1, "connect to PostgreSQL at 127.0.0.1:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			code, _, stderr := runCommand(t, tt.env, tt.args...)
			if code != tt.wantCode {
				t.Errorf("nimara %v exit code = %d, want %d; stderr:\n%s", tt.args, code,
					tt.wantCode, stderr)
			}
			if !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("nimara %v stderr = %q, want it to contain %q", tt.args, stderr,
					tt.wantStderr)
			}
			if tt.wantCode == 2 && !strings.Contains(stderr, "Usage:") {
				t.Errorf("nimara %v stderr has no usage: %q", tt.args, stderr)
			}
		})
	}
}

func TestNewCmdWorker_HelpConcurrencyDefaultOnce(t *testing.T) {
	t.Parallel()

	code, out, _ := runCommand(t, nil, "worker", "--help")
	if code != 0 {
		t.Fatalf("worker --help exit code = %d", code)
	}
	if strings.Contains(out, "(default [])") {
		t.Errorf("worker --help prints an empty --concurrency default:\n%s", out)
	}
	if n := strings.Count(out, "(default: the catalog's)"); n != 1 {
		t.Errorf("worker --help names the --concurrency default %d times, want 1:\n%s", n, out)
	}
}
