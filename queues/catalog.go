// Package queues defines the CRM's BullMQ queues in one place (name, worker concurrency,
// retry budget, contents) and wires each queue's jobs to their handlers in jobs/.
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
	// MaxAttempts is the retry budget producers give the queue's jobs (BullMQ's attempts
	// option), counting the first run.
	MaxAttempts int
	// Description is a summary of the queue's jobs.
	Description string
}

// Catalog lists the CRM's queues. Attempts follow the CRM's retry policy: 3 by default,
// 5 for email and documents (transient failures of SMTP and Documenso), 1 for import
// (users retry imports by hand).
var Catalog = []Queue{
	{"email", 5, 5, "All email sending: transactional and user-initiated"},
	{"documents", 3, 5, "Documenso API calls: create envelopes, poll, download signed files"},
	{"notifications", 10, 3, "In-app notification creation and email notifications"},
	{"import", 1, 1, "Data imports: CSV, Excel, berth specifications"},
	{"export", 2, 3, "Data exports: CSV, PDF, parent company report"},
	{"reports", 1, 3, "Scheduled report generation"},
	{"webhooks", 5, 3, "Outbound webhook delivery"},
	{"maintenance", 1, 3, "System maintenance: backups, cleanup, exchange rate refresh"},
	{"ai", 2, 3, "AI-assisted tasks: receipt scanning, berth spec parsing, file migration"},
	{"bulk", 2, 3, "Bulk operations: status change, tagging, deletion"},
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

// UnknownQueueError reports a queue name that is not in the catalog.
type UnknownQueueError struct {
	Name string
}

func (e *UnknownQueueError) Error() string {
	return fmt.Sprintf("unknown queue %q: use one of %s", e.Name, strings.Join(Names(), ", "))
}
