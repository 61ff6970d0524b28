// Package bullmq is a Go implementation of BullMQ's Redis protocol: queues, workers and the
// events stream. It stores them exactly as the Node.js bullmq package (5.x from 5.53.2, and
// 6.x) does, so Go and Node producers, workers and QueueEvents readers can share one Redis.
//
// Every state change runs in a Lua script of this package (lua/*.lua, embedded), written for
// this implementation. Only the data the scripts leave in Redis is shared with Node: key
// names, hash fields, list and sorted-set orientation, scores, markers and stream entries.
//
// A producer adds jobs:
//
//	q := bullmq.NewQueue(rdb, "mail", bullmq.QueueOpts{})
//	job, err := q.Add(ctx, "welcome", map[string]any{"to": "a@example.com"}, bullmq.JobOpts{
//		Attempts: 3,
//		Backoff:  &bullmq.Backoff{Type: bullmq.BackoffExponential, Delay: time.Second},
//	})
//
// A worker processes them until its context ends:
//
//	w := bullmq.NewWorker(rdb, "mail", func(ctx context.Context, job *bullmq.Job) (any, error) {
//		return map[string]any{"sent": true}, nil
//	}, bullmq.WorkerOpts{Concurrency: 10})
//	err := w.Run(ctx)
//
// On Redis Cluster every key of a queue must hash to one slot: give the prefix a hash tag,
// such as "{bull}", as Node BullMQ requires.
package bullmq
