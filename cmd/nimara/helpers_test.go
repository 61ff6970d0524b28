package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/spf13/cobra"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a running worker.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testFactory returns a Factory with buffer streams and only the given variables set.
func testFactory(env map[string]string) (*Factory, *syncBuffer, *syncBuffer) {
	out, errOut := &syncBuffer{}, &syncBuffer{}
	f := &Factory{
		Out:    out,
		ErrOut: errOut,
		Getenv: func(name string) string { return env[name] },
	}
	return f, out, errOut
}

// executeQuiet runs cmd with args without printing the error or the usage.
func executeQuiet(cmd *cobra.Command, args []string) error {
	cmd.SetArgs(args)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	return cmd.Execute()
}

// checkUsageError runs cmd with args and checks that it fails with a usage error whose text
// contains wantErr.
func checkUsageError(t *testing.T, cmd *cobra.Command, args []string, wantErr string) {
	t.Helper()

	err := executeQuiet(cmd, args)
	var usage *usageError
	if !errors.As(err, &usage) {
		t.Fatalf("Execute(%v) error = %v, want a usage error", args, err)
	}
	if !strings.Contains(err.Error(), wantErr) {
		t.Errorf("Execute(%v) error = %q, want it to contain %q", args, err, wantErr)
	}
}

// runCommand runs args as the nimara binary would and returns the exit code and streams.
func runCommand(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()

	f, out, errOut := testFactory(env)
	code := run(context.Background(), f, args)
	return code, out.String(), errOut.String()
}
