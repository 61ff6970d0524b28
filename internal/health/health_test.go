package health

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// startRedis starts a redis-server of the test's own on a free 127.0.0.1 port and returns
// a client and a function that stops the server.
func startRedis(t *testing.T) (*redis.Client, func()) {
	t.Helper()

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()

	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Skipf("start redis-server: %v", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	stop := func() {
		_ = cmd.Process.Kill()
		<-done
	}
	t.Cleanup(stop)

	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port),
		MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { _ = client.Close() })

	deadline := time.Now().Add(10 * time.Second)
	for client.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on port %d did not answer PING within 10s", port)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return client, stop
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()

	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestReadyz_UnreadyWhenRedisStops(t *testing.T) {
	t.Parallel()

	client, stopRedis := startRedis(t)
	workersRunning := true
	srv := httptest.NewServer(NewHandler(Config{
		Checks: []Check{
			{Name: "redis", Func: func(ctx context.Context) error {
				return client.Ping(ctx).Err()
			}},
			{Name: "workers", Func: func(context.Context) error {
				if !workersRunning {
					return errors.New("not running")
				}
				return nil
			}},
		},
		Timeout: time.Second,
	}))
	t.Cleanup(srv.Close)

	code, body := get(t, srv.URL+"/readyz")
	if code != http.StatusOK {
		t.Errorf("/readyz with Redis up = %d, want 200; body:\n%s", code, body)
	}
	if body != "redis: ok\nworkers: ok\n" {
		t.Errorf("/readyz body = %q, want both checks ok", body)
	}

	stopRedis()

	code, body = get(t, srv.URL+"/readyz")
	if code != http.StatusServiceUnavailable {
		t.Errorf("/readyz with Redis stopped = %d, want 503", code)
	}
	if !strings.HasPrefix(body, "redis: ") || strings.HasPrefix(body, "redis: ok") {
		t.Errorf("/readyz body = %q, want the Redis error", body)
	}
	if !strings.Contains(body, "workers: ok\n") {
		t.Errorf("/readyz body = %q, want the workers check to still pass", body)
	}

	code, _ = get(t, srv.URL+"/healthz")
	if code != http.StatusOK {
		t.Errorf("/healthz with Redis stopped = %d, want 200", code)
	}
}

func TestReadyz_UnreadyWhenWorkersStop(t *testing.T) {
	t.Parallel()

	running := false
	srv := httptest.NewServer(NewHandler(Config{Checks: []Check{{Name: "workers",
		Func: func(context.Context) error {
			if !running {
				return errors.New("workers are not running")
			}
			return nil
		}}}}))
	t.Cleanup(srv.Close)

	code, body := get(t, srv.URL+"/readyz")
	if code != http.StatusServiceUnavailable || body != "workers: workers are not running\n" {
		t.Errorf("/readyz = %d %q, want 503 naming the workers", code, body)
	}
}

func TestMetrics_ServesGatherer(t *testing.T) {
	t.Parallel()

	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "nimara_test_total", Help: "Test."})
	reg.MustRegister(c)
	c.Add(3)

	srv := httptest.NewServer(NewHandler(Config{Gatherer: reg}))
	t.Cleanup(srv.Close)

	code, body := get(t, srv.URL+"/metrics")
	if code != http.StatusOK || !strings.Contains(body, "nimara_test_total 3\n") {
		t.Errorf("/metrics = %d %q, want the counter", code, body)
	}

	code, _ = get(t, srv.URL+"/nothing")
	if code != http.StatusNotFound {
		t.Errorf("GET /nothing = %d, want 404", code)
	}
}
