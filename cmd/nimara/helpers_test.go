package main

import (
	"bytes"
	"context"
	"sync"
	"testing"
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

// runCommand runs args as the nimara binary would and returns the exit code and streams.
func runCommand(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()

	f, out, errOut := testFactory(env)
	code := run(context.Background(), f, args)
	return code, out.String(), errOut.String()
}
