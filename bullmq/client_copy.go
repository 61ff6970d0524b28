package bullmq

import (
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// newNamedClient returns a copy of a *redis.Client or *redis.ClusterClient whose
// connections carry name (set by go-redis on every connect), and a function that closes
// it once. A *redis.Client copy has a pool of one connection. Other client types are
// returned as they are, unnamed, with a no-op close.
func newNamedClient(c redis.UniversalClient, name string) (redis.UniversalClient, func()) {
	var owned redis.UniversalClient
	switch t := c.(type) {
	case *redis.Client:
		opts := copyClientOptions(t.Options())
		opts.ClientName = name
		opts.PoolSize = 1
		opts.MinIdleConns = 0
		owned = redis.NewClient(opts)
	case *redis.ClusterClient:
		opts := copyClusterOptions(t.Options())
		opts.ClientName = name
		owned = redis.NewClusterClient(opts)
	default:
		return c, func() {}
	}

	var once sync.Once
	return owned, func() { once.Do(func() { _ = owned.Close() }) }
}

// copyClientOptions returns a copy of the options of a client that NewClient turns into
// the same settings. Options() holds normalized values, where 0 means "disabled" for
// retries and timeouts, but NewClient reads 0 as "use the default" and -1 as "disabled".
func copyClientOptions(o *redis.Options) *redis.Options {
	opts := *o
	opts.MaxRetries = disabledAsMinusOne(opts.MaxRetries)
	opts.MinRetryBackoff = disabledAsMinusOne(opts.MinRetryBackoff)
	opts.MaxRetryBackoff = disabledAsMinusOne(opts.MaxRetryBackoff)
	opts.ReadTimeout = timeoutForInit(opts.ReadTimeout)
	opts.WriteTimeout = timeoutForInit(opts.WriteTimeout)
	return &opts
}

// copyClusterOptions is copyClientOptions for a cluster client. A normalized cluster
// MaxRetries is never 0, so it is copied as it is.
func copyClusterOptions(o *redis.ClusterOptions) *redis.ClusterOptions {
	opts := *o
	opts.MinRetryBackoff = disabledAsMinusOne(opts.MinRetryBackoff)
	opts.MaxRetryBackoff = disabledAsMinusOne(opts.MaxRetryBackoff)
	opts.ReadTimeout = timeoutForInit(opts.ReadTimeout)
	opts.WriteTimeout = timeoutForInit(opts.WriteTimeout)
	return &opts
}

// disabledAsMinusOne maps a normalized 0 ("disabled") back to -1 for a new client.
func disabledAsMinusOne[T ~int | ~int64](v T) T {
	if v == 0 {
		return -1
	}
	return v
}

// timeoutForInit maps normalized timeouts back to their input form: 0 (no timeout) to -1,
// and -1 (no deadline at all) to -2.
func timeoutForInit(d time.Duration) time.Duration {
	switch d {
	case 0:
		return -1
	case -1:
		return -2
	}
	return d
}

// blockingReadTimeout returns the input-form read timeout of a copy that runs BZPOPMIN:
// the client's own timeout when it has none or a longer one, else blockReadTimeout.
func blockingReadTimeout(normalized time.Duration) time.Duration {
	if normalized > 0 && normalized < blockReadTimeout {
		return blockReadTimeout
	}
	return timeoutForInit(normalized)
}
