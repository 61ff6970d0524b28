// Package queues defines the CRM's BullMQ queues in one place (name, worker concurrency,
// retry policy, job names with their priorities and payloads) and wires each queue's jobs
// to their handlers in jobs/. Workers, producers, the dead-letter queue, the metrics and
// the exported contracts all read this catalog.
package queues

import (
	"fmt"
	"strings"
)

// Queue is one entry of the catalog.
type Queue struct {
	// Name is the BullMQ queue name the Node app uses.
	Name string
	// Concurrency is the default number of jobs one worker process runs at once.
	Concurrency int
	// MaxAttempts is the retry budget of the queue's jobs (BullMQ's attempts option),
	// counting the first run. Go workers apply it to jobs stored without attempts.
	MaxAttempts int
	// Description is a summary of the queue's jobs.
	Description string
	// Jobs are the job names the CRM enqueues on the queue, with their priorities.
	Jobs []Job
}

// Job is one job name of a queue.
type Job struct {
	// Name is the BullMQ job name.
	Name string
	// Priority is the BullMQ priority producers give the job: 1 is the highest.
	Priority int
	// Description is a summary of what the job does.
	Description string
	// Payload describes the job's data. Nil means an object of any shape, for jobs whose
	// handler this build lacks.
	Payload *Schema
	// Decode checks a payload as the handler does, returning the handler's error for data
	// it would reject. Nil for jobs without a handler in this build.
	Decode func(data []byte) error
}

// Priorities by kind of job: 1 is the highest, as in BullMQ.
const (
	// PriorityUrgent is for password reset email and system alerts.
	PriorityUrgent = 1
	// PriorityHigh is for signature webhooks, EOI reminders and reminder overdue checks.
	PriorityHigh = 2
	// PriorityDefault is for ordinary email, notifications, webhook deliveries and
	// calendar sync.
	PriorityDefault = 3
	// PriorityLow is for exports and reports.
	PriorityLow = 4
	// PriorityBackground is for imports, AI tasks and backup cleanup.
	PriorityBackground = 5
)

// Catalog lists the CRM's queues. Attempts follow the CRM's retry policy: 3 by default,
// 5 for email and documents (transient failures of SMTP and Documenso), 1 for import
// (imports are idempotent and users retry them by hand).
var Catalog = []Queue{
	{Name: "email", Concurrency: 5, MaxAttempts: 5,
		Description: "Transactional and user email", Jobs: emailJobs},
	{Name: "documents", Concurrency: 3, MaxAttempts: 5,
		Description: "Documenso e-signature API calls: create, poll, download",
		Jobs:        documentsJobs},
	{Name: "notifications", Concurrency: 10, MaxAttempts: 3,
		Description: "In-app notifications and notification email", Jobs: notificationsJobs},
	{Name: "import", Concurrency: 1, MaxAttempts: 1,
		Description: "CSV, Excel and berth spec imports (idempotent; users retry)",
		Jobs:        importJobs},
	{Name: "export", Concurrency: 2, MaxAttempts: 3,
		Description: "CSV and PDF exports, parent company report", Jobs: exportJobs},
	{Name: "reports", Concurrency: 1, MaxAttempts: 3,
		Description: "Scheduled report generation", Jobs: reportsJobs},
	{Name: "webhooks", Concurrency: 5, MaxAttempts: 3,
		Description: "Outbound webhook delivery", Jobs: webhooksJobs},
	{Name: "maintenance", Concurrency: 1, MaxAttempts: 3,
		Description: "Backups, cleanup, exchange rates", Jobs: maintenanceJobs},
	{Name: "ai", Concurrency: 2, MaxAttempts: 3,
		Description: "Receipt scanning, berth spec parsing, file migration", Jobs: aiJobs},
	{Name: "bulk", Concurrency: 2, MaxAttempts: 3,
		Description: "Bulk status change, tag, delete", Jobs: bulkJobs},
}

// Lookup returns the catalog entry of name.
func Lookup(name string) (Queue, bool) {
	for _, q := range Catalog {
		if q.Name == name {
			return q, true
		}
	}
	return Queue{}, false
}

// Names returns the catalog's queue names in catalog order.
func Names() []string {
	names := make([]string, len(Catalog))
	for i, q := range Catalog {
		names[i] = q.Name
	}
	return names
}

// Job returns the catalog entry of the job name on q.
func (q Queue) Job(name string) (Job, bool) {
	for _, j := range q.Jobs {
		if j.Name == name {
			return j, true
		}
	}
	return Job{}, false
}

// Priority returns the priority producers give the job name on q: the catalog's, or
// PriorityDefault for a name the catalog does not list.
func (q Queue) Priority(jobName string) int {
	if j, ok := q.Job(jobName); ok {
		return j.Priority
	}
	return PriorityDefault
}

// UnknownQueueError reports a queue name that is not in the catalog.
type UnknownQueueError struct {
	Name string
}

func (e *UnknownQueueError) Error() string {
	return fmt.Sprintf("unknown queue %q: use one of %s", e.Name, strings.Join(Names(), ", "))
}
