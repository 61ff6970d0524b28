package bullmq

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestBlockingClient_KeepsClientSettings(t *testing.T) {
	t.Parallel()

	src := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", MaxRetries: -1,
		MinRetryBackoff: -1, WriteTimeout: -1, ReadTimeout: 2 * time.Second})
	defer src.Close()

	b := newBlockingClient(src, "bull:cQ==")
	defer b.close()
	got := b.client.(*redis.Client).Options()

	if got.MaxRetries != 0 {
		t.Errorf("MaxRetries = %d, want 0 (retries disabled)", got.MaxRetries)
	}
	if got.MinRetryBackoff != 0 {
		t.Errorf("MinRetryBackoff = %s, want 0 (disabled)", got.MinRetryBackoff)
	}
	if got.WriteTimeout != 0 {
		t.Errorf("WriteTimeout = %s, want 0 (no timeout)", got.WriteTimeout)
	}
	if got.ReadTimeout != blockReadTimeout {
		t.Errorf("ReadTimeout = %s, want %s", got.ReadTimeout, blockReadTimeout)
	}
	if got.ClientName != "bull:cQ==" {
		t.Errorf("ClientName = %q, want %q", got.ClientName, "bull:cQ==")
	}
	if got.PoolSize != 2 {
		t.Errorf("PoolSize = %d, want 2", got.PoolSize)
	}
}

func TestBlockingClient_KeepsNoReadTimeout(t *testing.T) {
	t.Parallel()

	src := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", ReadTimeout: -1})
	defer src.Close()

	b := newBlockingClient(src, "bull:cQ==")
	defer b.close()
	got := b.client.(*redis.Client).Options()

	if got.ReadTimeout != 0 {
		t.Errorf("ReadTimeout = %s, want 0 (no timeout)", got.ReadTimeout)
	}
	if got.MaxRetries != 3 {
		t.Errorf("MaxRetries = %d, want the default 3", got.MaxRetries)
	}
}

func TestBlockingClient_ClusterKeepsSettings(t *testing.T) {
	t.Parallel()

	src := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:6379"},
		MinRetryBackoff: -1, WriteTimeout: -1, ReadTimeout: 30 * time.Second})
	defer src.Close()

	b := newBlockingClient(src, "bull:cQ==")
	defer b.close()
	got := b.client.(*redis.ClusterClient).Options()

	if got.MinRetryBackoff != 0 {
		t.Errorf("MinRetryBackoff = %s, want 0 (disabled)", got.MinRetryBackoff)
	}
	if got.WriteTimeout != 0 {
		t.Errorf("WriteTimeout = %s, want 0 (no timeout)", got.WriteTimeout)
	}
	if got.ReadTimeout != 30*time.Second {
		t.Errorf("ReadTimeout = %s, want the client's 30s", got.ReadTimeout)
	}
}

func TestNamedClient_KeepsDisabledRetries(t *testing.T) {
	t.Parallel()

	src := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", MaxRetries: -1})
	defer src.Close()

	c, closeCopy := newNamedClient(src, "bull:cQ==:qe")
	defer closeCopy()
	got := c.(*redis.Client).Options()

	if got.MaxRetries != 0 {
		t.Errorf("MaxRetries = %d, want 0 (retries disabled)", got.MaxRetries)
	}
	if got.PoolSize != 1 {
		t.Errorf("PoolSize = %d, want 1", got.PoolSize)
	}
}
