package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// clusterStartTimeout bounds starting the servers and waiting for cluster_state:ok.
const clusterStartTimeout = 30 * time.Second

// clusterSize is the number of masters. The 16384 slots are split evenly between them.
const clusterSize = 3

var (
	clusterOnce sync.Once
	clusterMu   sync.Mutex
	cluster     *localCluster
	clusterErr  error
)

// localCluster is a Redis Cluster of redis-server processes that this package started.
type localCluster struct {
	dir    string
	addrs  []string
	procs  []*exec.Cmd
	client *redis.ClusterClient
}

// Cluster returns a client of a local Redis Cluster of three masters without replicas,
// listening on free 127.0.0.1 ports. The cluster is started on first use and shared by
// every test of the package run, so tests must keep to their own keys (ClusterPrefix).
// Call StopCluster from TestMain to stop the servers and delete their directory. A test
// binary that dies without it still takes the servers along, because they get SIGKILL
// when the process that started them exits.
//
// The test is skipped when redis-server is not on PATH, and fails instead when the CI
// environment variable is set.
func Cluster(t testing.TB) *redis.ClusterClient {
	t.Helper()

	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("redistest: redis-server is needed for the cluster tests: %v", err)
		}
		t.Skipf("redistest: redis-server is not on PATH, skipping the cluster test: %v", err)
	}

	clusterOnce.Do(func() {
		c, err := startCluster()

		clusterMu.Lock()
		cluster, clusterErr = c, err
		clusterMu.Unlock()
	})

	clusterMu.Lock()
	defer clusterMu.Unlock()

	if clusterErr != nil {
		t.Fatalf("redistest: starting the local Redis Cluster: %v", clusterErr)
	}
	if cluster == nil {
		t.Fatalf("redistest: the local Redis Cluster was stopped")
	}
	return cluster.client
}

// ClusterAddrs returns the "127.0.0.1:<port>" addresses of the masters of Cluster,
// starting it if needed, for peers that connect on their own (ioredis Cluster).
func ClusterAddrs(t testing.TB) []string {
	t.Helper()

	Cluster(t)

	clusterMu.Lock()
	defer clusterMu.Unlock()

	return append([]string(nil), cluster.addrs...)
}

// ClusterPrefix is Prefix for the local cluster: a unique prefix nt{<8 hex digits>} whose
// braces make it a hash tag, so every key of a BullMQ queue under it lives in one slot.
// When the test ends, every key matching <prefix>:* is deleted from every master.
func ClusterPrefix(t testing.TB) string {
	t.Helper()

	client := Cluster(t)
	prefix := "nt{" + randomHex(t) + "}"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()

		if _, err := DeleteKeys(ctx, client, EscapePattern(prefix)+":*"); err != nil {
			t.Errorf("redistest: deleting cluster keys of prefix %s: %v", prefix, err)
		}
	})
	return prefix
}

// StopCluster stops the servers of the local cluster, if Cluster started them, and
// deletes their directory. Later calls of Cluster fail the test.
func StopCluster() {
	clusterMu.Lock()
	c := cluster
	cluster = nil
	clusterMu.Unlock()

	if c != nil {
		c.stop()
	}
}

func startCluster() (*localCluster, error) {
	dir, err := os.MkdirTemp("", "nimara-redis-cluster-")
	if err != nil {
		return nil, fmt.Errorf("creating the cluster directory: %w", err)
	}
	c := &localCluster{dir: dir}

	ctx, cancel := context.WithTimeout(context.Background(), clusterStartTimeout)
	defer cancel()

	if err := c.start(ctx); err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

// start runs the servers, assigns the slots with CLUSTER ADDSLOTSRANGE, joins the nodes
// with CLUSTER MEET, and waits until every node reports cluster_state:ok.
func (c *localCluster) start(ctx context.Context) error {
	nodes := make([]*redis.Client, 0, clusterSize)
	defer func() {
		for _, n := range nodes {
			_ = n.Close()
		}
	}()

	busPorts := make([]int, 0, clusterSize)
	for i := range clusterSize {
		port, busPort, err := c.startServer(i)
		if err != nil {
			return err
		}
		busPorts = append(busPorts, busPort)

		addr := "127.0.0.1:" + strconv.Itoa(port)
		c.addrs = append(c.addrs, addr)
		node := redis.NewClient(&redis.Options{Addr: addr})
		nodes = append(nodes, node)
		if err := waitForPing(ctx, node); err != nil {
			return fmt.Errorf("redis-server %s (log in %s): %w", addr, c.dir, err)
		}
	}

	const slots = 16384
	for i, node := range nodes {
		first, last := i*slots/clusterSize, (i+1)*slots/clusterSize-1
		if err := node.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", first, last).Err(); err != nil {
			return fmt.Errorf("CLUSTER ADDSLOTSRANGE %d %d on %s: %w", first, last,
				c.addrs[i], err)
		}
	}
	for i := 1; i < len(nodes); i++ {
		port := strings.TrimPrefix(c.addrs[i], "127.0.0.1:")
		err := nodes[0].Do(ctx, "CLUSTER", "MEET", "127.0.0.1", port, busPorts[i]).Err()
		if err != nil {
			return fmt.Errorf("CLUSTER MEET %s: %w", c.addrs[i], err)
		}
	}

	for i, node := range nodes {
		if err := waitForClusterOK(ctx, node); err != nil {
			return fmt.Errorf("waiting for cluster_state:ok on %s: %w", c.addrs[i], err)
		}
	}

	c.client = redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.addrs})
	err := c.client.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		return node.Ping(ctx).Err()
	})
	if err != nil {
		return fmt.Errorf("pinging the cluster masters: %w", err)
	}
	return nil
}

// startServer starts node i on two free ports (client and cluster bus) and returns them.
func (c *localCluster) startServer(i int) (int, int, error) {
	port, err := freePort()
	if err != nil {
		return 0, 0, err
	}
	busPort, err := freePort()
	if err != nil {
		return 0, 0, err
	}

	nodeDir := filepath.Join(c.dir, "node"+strconv.Itoa(i))
	if err := os.Mkdir(nodeDir, 0o700); err != nil {
		return 0, 0, fmt.Errorf("creating %s: %w", nodeDir, err)
	}

	cmd := exec.Command("redis-server",
		"--bind", "127.0.0.1",
		"--port", strconv.Itoa(port),
		"--cluster-enabled", "yes",
		"--cluster-port", strconv.Itoa(busPort),
		"--cluster-config-file", filepath.Join(nodeDir, "nodes.conf"),
		"--cluster-node-timeout", "5000",
		"--dir", nodeDir,
		"--logfile", filepath.Join(nodeDir, "redis.log"),
		"--save", "",
		"--appendonly", "no",
		"--maxmemory-policy", "noeviction",
	)
	// The servers die with the test binary even when StopCluster never runs.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return 0, 0, fmt.Errorf("starting redis-server on port %d: %w", port, err)
	}
	c.procs = append(c.procs, cmd)
	return port, busPort, nil
}

func (c *localCluster) stop() {
	if c.client != nil {
		_ = c.client.Close()
	}
	for _, cmd := range c.procs {
		_ = cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, cmd := range c.procs {
		done := make(chan struct{})
		go func() {
			_ = cmd.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	_ = os.RemoveAll(c.dir)
}

// freePort returns a TCP port that was free on 127.0.0.1 a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()

	return l.Addr().(*net.TCPAddr).Port, nil
}

func waitForPing(ctx context.Context, node *redis.Client) error {
	for {
		err := node.Ping(ctx).Err()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("no reply to PING: %w", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitForClusterOK polls CLUSTER INFO until the node reports every master and all slots.
func waitForClusterOK(ctx context.Context, node *redis.Client) error {
	want := []string{
		"cluster_state:ok",
		"cluster_slots_ok:16384",
		"cluster_known_nodes:" + strconv.Itoa(clusterSize),
	}
	last := ""
	for {
		info, err := node.ClusterInfo(ctx).Result()
		if err == nil && containsAll(info, want) {
			return nil
		}
		if err == nil {
			last = info
		}
		if ctx.Err() != nil {
			return errors.Join(ctx.Err(), fmt.Errorf("last CLUSTER INFO: %q", last))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func containsAll(info string, lines []string) bool {
	for _, line := range lines {
		if !strings.Contains(info, line+"\r\n") && !strings.Contains(info, line+"\n") {
			return false
		}
	}
	return true
}
