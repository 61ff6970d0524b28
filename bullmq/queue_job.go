package bullmq

import (
	"context"
	"errors"
	"fmt"
)

var updateDataScript = loadScript("update_data")

// UpdateData replaces the job's data, in any state, and sets j.Data to the stored JSON.
// data is encoded as Add encodes it. It returns ErrJobNotFound when the job no longer
// exists. No event is written, as in Node.
func (j *Job) UpdateData(ctx context.Context, data any) error {
	if j.queue == nil {
		return errors.New("bullmq: job has no queue: use a Job returned by a Queue or Worker")
	}

	encoded, err := encodeJobData(data)
	if err != nil {
		return fmt.Errorf("bullmq: data of job %s: %w", j.ID, err)
	}

	q := j.queue
	keys := []string{q.keys.job(j.ID)}
	code, err := updateDataScript.Run(ctx, q.client, keys, string(encoded)).Int64()
	if err != nil {
		return fmt.Errorf("bullmq: update data of job %s: %w", j.ID, err)
	}
	if code == -1 {
		return fmt.Errorf("bullmq: update data of job %s of queue %s: %w", j.ID, q.name,
			ErrJobNotFound)
	}

	j.Data = encoded
	return nil
}
