package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/portnimara/nimara/config"
)

// Exit codes of the nimara binary, listed by "nimara help exit-codes".
const (
	exitOK        = 0
	exitError     = 1
	exitUsage     = 2
	exitCancelled = 3
)

// Factory carries what every command needs from its environment, so tests can run the
// commands in-process with their own streams and variables.
type Factory struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// InTTY, OutTTY and ErrTTY report whether In, Out and ErrOut are terminals: commands
	// print tables, prompts and progress bars only to terminals.
	InTTY  bool
	OutTTY bool
	ErrTTY bool
	// Getenv reads an environment variable; os.Getenv in production.
	Getenv func(string) string

	// flags holds the root's persistent flags, bound by newCmdRoot.
	flags *pflag.FlagSet
	// global holds the values of those flags.
	global config.Config
}

// Config returns the environment's configuration with the root flags that were set on top,
// validated.
func (f *Factory) Config() (config.Config, error) {
	cfg := config.Load(f.Getenv)

	changed := false
	override := func(name string, dst *string, value string) {
		if f.flags != nil && f.flags.Changed(name) {
			*dst = value
			changed = true
		}
	}
	override("redis-url", &cfg.RedisURL, f.global.RedisURL)
	override("database-url", &cfg.DatabaseURL, f.global.DatabaseURL)
	override("prefix", &cfg.Prefix, f.global.Prefix)
	override("log-level", &cfg.LogLevel, f.global.LogLevel)
	override("log-format", &cfg.LogFormat, f.global.LogFormat)

	if err := cfg.Validate(); err != nil {
		if changed {
			return cfg, usageErrorf("%w", err)
		}
		return cfg, err
	}
	return cfg, nil
}

// usageError is a bad flag or argument: Main prints it with the command's usage and exits 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}

// exitCodeError ends the command with code after the command printed its own report, so
// Main prints nothing more.
type exitCodeError struct{ code int }

func (e *exitCodeError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func newCmdRoot(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "nimara <command> [flags]",
		Short: "Run the Port Nimara CRM's Go job workers",
		Long: `nimara processes the CRM's BullMQ jobs next to the Node app and emits its
Socket.IO events through Redis.

Settings come from flags, then environment variables, then defaults:
  --redis-url     REDIS_URL            redis://127.0.0.1:6379
  --database-url  DATABASE_URL         postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable
  --prefix        NIMARA_PREFIX        bull (the BullMQ key prefix)
                  NIMARA_SOCKETIO_KEY  socket.io (the Socket.IO Redis adapter's channel key)
  --log-level     LOG_LEVEL            info (debug, info, warn or error)
  --log-format    LOG_FORMAT           json (json or text)

Exit codes: 0 success, 1 failure, 2 usage error (bad flag or argument), 3 cancelled at
a confirmation prompt; see "nimara help exit-codes".`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	cmd.CompletionOptions.DisableDefaultCmd = true

	flags := cmd.PersistentFlags()
	flags.StringVar(&f.global.RedisURL, "redis-url", "", "Redis URL (env REDIS_URL)")
	flags.StringVar(&f.global.DatabaseURL, "database-url", "",
		"PostgreSQL URL (env DATABASE_URL)")
	flags.StringVar(&f.global.Prefix, "prefix", "", "BullMQ key prefix (env NIMARA_PREFIX)")
	flags.StringVar(&f.global.LogLevel, "log-level", "",
		"log level: debug, info, warn or error (env LOG_LEVEL)")
	flags.StringVar(&f.global.LogFormat, "log-format", "",
		"log format: json or text (env LOG_FORMAT)")
	f.flags = flags

	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &usageError{err: err}
	})
	cmd.SetOut(f.Out)
	cmd.SetErr(f.ErrOut)

	cmd.AddCommand(newCmdWorker(f, nil))
	cmd.AddCommand(newCmdJobs(f))
	cmd.AddCommand(newCmdQueues(f))
	cmd.AddCommand(newCmdDLQ(f))
	cmd.AddCommand(newCmdContracts(f, nil))
	cmd.AddCommand(newCmdMigrate(f, nil))
	cmd.AddCommand(newHelpExitCodes())
	return cmd
}

// Main runs the nimara command line with os.Args and returns the exit code. SIGINT and
// SIGTERM cancel the command's context; a second signal kills the process.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// Once the first signal arrived, restore the default handling of the next one.
	context.AfterFunc(ctx, stop)

	f := &Factory{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr, Getenv: os.Getenv,
		InTTY: isTerminal(os.Stdin), OutTTY: isTerminal(os.Stdout),
		ErrTTY: isTerminal(os.Stderr)}
	// By default go-redis prints its own lines to stderr, such as one per failed connection
	// pool dial, ahead of the error that the command prints. They go to debug logs instead.
	redis.SetLogger(&redisLogger{factory: f})
	return run(ctx, f, os.Args[1:])
}

// run executes args and maps the outcome to an exit code, printing the error to ErrOut.
func run(ctx context.Context, f *Factory, args []string) int {
	root := newCmdRoot(f)
	root.SetArgs(args)

	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}

	var exitErr *exitCodeError
	if errors.As(err, &exitErr) {
		return exitErr.code
	}

	if errors.Is(err, errCancelled) {
		fmt.Fprintln(f.ErrOut, "Cancelled")
		return exitCancelled
	}

	var usageErr *usageError
	if errors.As(err, &usageErr) || strings.HasPrefix(err.Error(), "unknown command") {
		fmt.Fprintf(f.ErrOut, "Error: %v\n\n%s", err, cmd.UsageString())
		return exitUsage
	}

	fmt.Fprintf(f.ErrOut, "Error: %v\n", err)
	return exitError
}

// exactArgs is cobra.ExactArgs with a usage error.
func exactArgs(n int, names string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return usageErrorf("expected %d arguments (%s), got %d", n, names, len(args))
		}
		return nil
	}
}

// noArgs is cobra.NoArgs with a usage error.
func noArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("unexpected argument %q", args[0])
	}
	return nil
}
