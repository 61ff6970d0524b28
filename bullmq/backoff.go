package bullmq

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// backoffDelay computes the delay before retry attemptNo (1 after the first failure) with
// Node's formulas, in whole milliseconds:
//
//   - fixed: delay; with jitter j, a random value in [delay×(1−j), delay).
//   - exponential: round(2^(attemptNo−1) × delay); jitter applies to that value.
//   - any other type: the worker's BackoffFunc of that name; a negative result means no
//     retry.
//
// No backoff means an immediate retry. It fails for a type without a strategy.
func backoffDelay(b *Backoff, attemptNo int, err error, job *Job,
	custom map[string]BackoffFunc) (time.Duration, bool, error) {
	if b == nil {
		return 0, true, nil
	}

	base := float64(b.Delay.Milliseconds())
	var ms float64
	switch b.Type {
	case BackoffFixed:
		ms = withJitter(base, b.Jitter)
	case BackoffExponential:
		ms = withJitter(math.Round(math.Pow(2, float64(attemptNo-1))*base), b.Jitter)
	default:
		fn, ok := custom[b.Type]
		if !ok {
			return 0, false, fmt.Errorf("bullmq: unknown backoff type %q of job %s: "+
				"register it in WorkerOpts.BackoffStrategies", b.Type, job.ID)
		}
		d := fn(attemptNo, b.Type, err, job)
		if d < 0 {
			return 0, false, nil
		}
		return d.Truncate(time.Millisecond), true, nil
	}
	return time.Duration(ms) * time.Millisecond, true, nil
}

// withJitter returns floor(rand × max × j + max × (1 − j)) for 0 < j ≤ 1, else max.
func withJitter(max, jitter float64) float64 {
	if jitter <= 0 {
		return max
	}
	return math.Floor(rand.Float64()*max*jitter + max*(1-jitter))
}
