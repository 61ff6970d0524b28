package bullmq

// MetricsOpts turns on the per-minute completed and failed counts that Node's
// Queue.getMetrics reads (hashes "<queue>:metrics:completed" and "...:failed" with their
// ":data" lists).
type MetricsOpts struct {
	// MaxDataPoints is how many minutes of counts are kept (Node offers presets such as 60,
	// or 10080 for a week). Must be positive.
	MaxDataPoints int
}
