package adapter_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zishang520/socket.io/v2/socket"

	"github.com/portnimara/nimara/socketio/internal/siotest"
)

// recordHandler is a slog handler that keeps every record and forwards it to the test log.
type recordHandler struct {
	out   *siotest.LogWriter
	mu    *sync.Mutex
	recs  *[]slog.Record
	attrs []slog.Attr
}

func newRecorder(t *testing.T) (*slog.Logger, *recordHandler) {
	w := siotest.NewLogWriter(t, "go: ")
	h := &recordHandler{out: w, mu: &sync.Mutex{}, recs: &[]slog.Record{}}
	return slog.New(h), h
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	r = r.Clone()
	r.AddAttrs(h.attrs...)
	h.mu.Lock()
	*h.recs = append(*h.recs, r)
	h.mu.Unlock()

	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	_, _ = h.out.Write([]byte(b.String()))
	return nil
}

func (h *recordHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	out := *h
	out.attrs = append(append([]slog.Attr{}, h.attrs...), attrs...)
	return &out
}

func (h *recordHandler) WithGroup(string) slog.Handler { return h }

// messages returns the messages logged so far at level or above.
func (h *recordHandler) messages(level slog.Level) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, r := range *h.recs {
		if r.Level >= level {
			out = append(out, r.Message)
		}
	}
	return out
}

// goServer is a zishang520 server on 127.0.0.1 with the adapter under test.
type goServer struct {
	io  *socket.Server
	url string
}

// startGoServer creates a server with builder and the namespaces nsps ("/" always exists).
// Clients join the rooms listed in auth.rooms and get auth.data as socket data, like the
// Node peer's servers.
func startGoServer(t *testing.T, builder socket.AdapterConstructor, nsps ...string,
) *goServer {
	t.Helper()
	opts := socket.DefaultServerOptions()
	opts.SetAdapter(builder)
	io := socket.NewServer(nil, opts)

	for _, name := range append([]string{"/"}, nsps...) {
		io.Of(name, nil).Use(func(s *socket.Socket, next func(*socket.ExtendedError)) {
			auth, _ := s.Handshake().Auth.(map[string]any)
			if rooms, ok := auth["rooms"].([]any); ok {
				for _, r := range rooms {
					if name, ok := r.(string); ok {
						s.Join(socket.Room(name))
					}
				}
			}
			if data, ok := auth["data"]; ok {
				s.SetData(data)
			}
			next(nil)
		})
	}

	mux := http.NewServeMux()
	mux.Handle("/socket.io/", io.ServeHandler(nil))
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		io.Close(nil)
		srv.Close()
	})
	return &goServer{io: io, url: srv.URL}
}

// equalJSON compares two JSON documents semantically.
func equalJSON(t *testing.T, got json.RawMessage, want string) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("decode %s: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("decode %s: %v", want, err)
	}
	return reflect.DeepEqual(g, w)
}

// timeAfter returns a channel that fires after deadline.
func timeAfter(t *testing.T) <-chan time.Time {
	t.Helper()
	return time.After(deadline)
}

// jsonRaw is a JSON value kept as text.
type jsonRaw = json.RawMessage

func mustUnmarshal(t *testing.T, data []byte, out any) {
	t.Helper()
	if err := json.Unmarshal(data, out); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
}
