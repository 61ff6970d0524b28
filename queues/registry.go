package queues

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	"github.com/portnimara/nimara/bullmq"
	"github.com/portnimara/nimara/jobs/notifications"
	"github.com/portnimara/nimara/jobs/realtime"
)

// Registry maps each queue to the process functions of its job names.
type Registry struct {
	handlers map[string]map[string]bullmq.ProcessFunc
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{handlers: map[string]map[string]bullmq.ProcessFunc{}}
}

// Deps are the dependencies handed to the handlers.
type Deps struct {
	// DB is the CRM database, usually a *pgxpool.Pool.
	DB notifications.DB
	// Publisher emits realtime events.
	Publisher realtime.Publisher
	// Logger receives the handlers' logs. Nil discards them.
	Logger *slog.Logger
}

// DefaultRegistry returns a registry with every handler this build has. Today only the
// notifications queue has handlers: create and super-admin-alert.
func DefaultRegistry(deps Deps) *Registry {
	r := NewRegistry()

	n := notifications.NewHandler(deps.DB, deps.Publisher, deps.Logger)
	if err := r.Register(notifications.Queue, n.Handlers()); err != nil {
		// Only a programming error gets here: a queue outside the catalog or a repeated name.
		panic("queues: " + err.Error())
	}

	return r
}

// Register adds handlers, by job name, to queue. It fails for a queue outside the catalog
// and for a job name that already has a handler.
func (r *Registry) Register(queue string, handlers map[string]bullmq.ProcessFunc) error {
	if _, ok := Lookup(queue); !ok {
		return &UnknownQueueError{Name: queue}
	}

	existing := r.handlers[queue]
	if existing == nil {
		existing = map[string]bullmq.ProcessFunc{}
		r.handlers[queue] = existing
	}
	for name, fn := range handlers {
		if _, dup := existing[name]; dup {
			return fmt.Errorf("queue %s: job name %q already has a handler", queue, name)
		}
		existing[name] = fn
	}
	return nil
}

// Queues returns the queues that have handlers, in catalog order.
func (r *Registry) Queues() []string {
	var names []string
	for _, q := range Catalog {
		if len(r.handlers[q.Name]) > 0 {
			names = append(names, q.Name)
		}
	}
	return names
}

// JobNames returns the job names registered for queue, sorted.
func (r *Registry) JobNames(queue string) []string {
	var names []string
	for name := range r.handlers[queue] {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// handlerCheck returns a function that reports whether queue has a handler for a job name.
func (r *Registry) handlerCheck(queue string) func(string) bool {
	handlers := r.handlers[queue]
	return func(name string) bool {
		_, ok := handlers[name]
		return ok
	}
}

// Processor returns the process function of queue, which dispatches each job by name. A
// malformed job hash or a job name without a handler fails the job at once, without
// retries, because no retry can fix it.
func (r *Registry) Processor(queue string) bullmq.ProcessFunc {
	handlers := r.handlers[queue]

	return func(ctx context.Context, job *bullmq.Job) (any, error) {
		if err := job.Malformed(); err != nil {
			return nil, bullmq.Unrecoverable(err)
		}

		fn, ok := handlers[job.Name]
		if !ok {
			return nil, bullmq.Unrecoverable(fmt.Errorf("unknown job name %q for queue %s",
				job.Name, queue))
		}
		return fn(ctx, job)
	}
}
