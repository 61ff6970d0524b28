package main

import "testing"

func TestWorkerPoolSize_SumsConcurrency(t *testing.T) {
	t.Parallel()

	// email runs 5 jobs at once in the catalog, and the override sets notifications to 20.
	opts := &WorkerOptions{Queues: []string{"email", "notifications"},
		Concurrency: map[string]int{"notifications": 20}}
	if got, want := workerPoolSize(opts), 10+(5+5)+(20+5); got != want {
		t.Errorf("workerPoolSize = %d, want %d", got, want)
	}
}

func TestOpenWorkerRedis_URLPoolSizeWins(t *testing.T) {
	t.Parallel()

	rdb, err := openWorkerRedis(t.Context(), "redis://127.0.0.1:6379/0?pool_size=7", 50)
	if err != nil {
		t.Skipf("Redis at 127.0.0.1:6379 unavailable: %v", err)
	}
	defer rdb.Close()

	if got := rdb.Options().PoolSize; got != 7 {
		t.Errorf("PoolSize = %d, want 7 from the URL", got)
	}
}

func TestOpenWorkerRedis_SetsPoolSize(t *testing.T) {
	t.Parallel()

	rdb, err := openWorkerRedis(t.Context(), "redis://127.0.0.1:6379/0", 50)
	if err != nil {
		t.Skipf("Redis at 127.0.0.1:6379 unavailable: %v", err)
	}
	defer rdb.Close()

	if got := rdb.Options().PoolSize; got != 50 {
		t.Errorf("PoolSize = %d, want 50", got)
	}
}
