package queues

import (
	"time"

	"github.com/portnimara/nimara/bullmq"
)

// BackoffType is the name of the CRM's custom retry backoff, which Go workers register. A
// Node worker on the same queues must register the same strategy in its
// settings.backoffStrategy, and the exported TypeScript contract contains one.
const BackoffType = "crm"

// BackoffBase is the delay before the first retry. Each later retry waits ten times longer,
// up to BackoffMax: 1s, 10s, 100s, 100s, ...
const (
	BackoffBase = time.Second
	BackoffMax  = 100 * time.Second
)

// BackoffDelay returns the delay before the retry that follows attempt attemptsMade (1
// after the first failure), in units of unit (BackoffBase in production): unit,
// 10×unit, 100×unit, and 100×unit for every later retry.
func BackoffDelay(attemptsMade int, unit time.Duration) time.Duration {
	d := unit
	for i := 1; i < attemptsMade && d < 100*unit; i++ {
		d *= 10
	}
	return min(d, 100*unit)
}

// BackoffStrategies returns the custom backoff strategies Go workers register, with delays
// in units of unit. A zero unit means BackoffBase.
func BackoffStrategies(unit time.Duration) map[string]bullmq.BackoffFunc {
	if unit <= 0 {
		unit = BackoffBase
	}
	return map[string]bullmq.BackoffFunc{
		BackoffType: func(attemptsMade int, _ string, _ error, _ *bullmq.Job) time.Duration {
			return BackoffDelay(attemptsMade, unit)
		},
	}
}

// DefaultBackoff is the backoff option of the queue policy.
func DefaultBackoff() *bullmq.Backoff {
	return &bullmq.Backoff{Type: BackoffType, Delay: BackoffBase}
}

// DefaultJobOpts returns the options a producer gives a jobName job on q: the queue's
// attempts, the CRM backoff, and the job's priority.
func (q Queue) DefaultJobOpts(jobName string) bullmq.JobOpts {
	return bullmq.JobOpts{
		Attempts: q.MaxAttempts,
		Backoff:  DefaultBackoff(),
		Priority: q.Priority(jobName),
	}
}
