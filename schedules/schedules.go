// Package schedules lists the CRM's recurring jobs: when each one fires, which queue it goes
// to and with what priority. Each entry becomes a BullMQ job scheduler (UpsertJobScheduler),
// so the Node app and nimara see the same schedulers in Redis, and a tick runs once
// whichever worker takes it.
//
// NOTE: no handler for these jobs exists yet, so `nimara worker` does not upsert them; Sync
// is for the release that adds the handlers, and until then the Node app keeps running its
// own repeatable jobs.
package schedules

import (
	"context"
	"fmt"
	"time"

	"github.com/portnimara/nimara/bullmq"
)

// Schedule is one recurring job.
type Schedule struct {
	// Name is both the job scheduler id and the job name of every iteration.
	Name string
	// Queue is the queue the iterations are added to.
	Queue string
	// Every is the interval of interval schedules; zero for cron schedules.
	Every time.Duration
	// Pattern is the cron expression (five fields, minutes first) of cron schedules.
	Pattern string
	// TZ is the IANA zone of Pattern. Jobs due at a port's local time tick hourly in UTC
	// and select the ports whose local hour matches.
	TZ string
	// Priority is the BullMQ priority of each iteration: 1 is the highest.
	Priority int
	// Description is a summary of what one run does.
	Description string
}

// All lists the recurring jobs of the CRM.
var All = []Schedule{
	{Name: "signature-poll", Queue: "documents", Every: 6 * time.Hour, Priority: 2,
		Description: "Poll Documenso for documents still awaiting signatures, as a safety net " +
			"for lost webhooks"},
	{Name: "reminder-check", Queue: "notifications", Every: time.Hour, Priority: 3,
		Description: "Create follow-up reminders for inactive interests with reminders enabled"},
	{Name: "reminder-overdue-check", Queue: "notifications", Every: 15 * time.Minute,
		Priority: 2, Description: "Notify assignees of reminders past their due time"},
	{Name: "calendar-sync", Queue: "maintenance", Every: 30 * time.Minute, Priority: 3,
		Description: "Fetch the next 14 days of Google Calendar events of connected users"},
	{Name: "invoice-overdue-check", Queue: "notifications", Pattern: "0 * * * *", TZ: "UTC",
		Priority: 3, Description: "At 08:00 port time: mark overdue invoices and notify"},
	{Name: "tenure-expiry-check", Queue: "notifications", Pattern: "0 * * * *", TZ: "UTC",
		Priority: 3, Description: "At 08:00 port time: notify of berth tenures nearing expiry"},
	{Name: "currency-refresh", Queue: "maintenance", Every: 6 * time.Hour, Priority: 3,
		Description: "Refresh exchange rates from Frankfurter"},
	{Name: "database-backup", Queue: "maintenance", Pattern: "0 2 * * *", TZ: "UTC",
		Priority: 3, Description: "pg_dump the database into object storage"},
	{Name: "backup-cleanup", Queue: "maintenance", Pattern: "0 3 * * 0", TZ: "UTC",
		Priority: 5, Description: "Delete backups older than the retention period"},
	{Name: "session-cleanup", Queue: "maintenance", Pattern: "0 4 * * *", TZ: "UTC",
		Priority: 3, Description: "Delete expired Better Auth sessions"},
	{Name: "report-scheduler", Queue: "reports", Every: time.Minute, Priority: 4,
		Description: "Enqueue the scheduled reports that are due"},
	{Name: "notification-digest", Queue: "email", Pattern: "0 * * * *", TZ: "UTC",
		Priority: 3, Description: "Email each user whose digest hour has come a digest of " +
			"unread notifications"},
	{Name: "temp-file-cleanup", Queue: "maintenance", Pattern: "0 5 * * *", TZ: "UTC",
		Priority: 3, Description: "Delete report files older than 7 days and orphaned uploads"},
	{Name: "form-expiry-check", Queue: "maintenance", Every: time.Hour, Priority: 3,
		Description: "Mark expired form submissions as expired"},
}

// Sync upserts the job scheduler of every schedule whose queue has a Queue in queues,
// keyed by queue name. Upserting an unchanged schedule keeps its pending iteration.
func Sync(ctx context.Context, queues map[string]*bullmq.Queue) error {
	for _, s := range All {
		q, ok := queues[s.Queue]
		if !ok {
			continue
		}

		repeat := bullmq.RepeatOpts{Every: s.Every, Pattern: s.Pattern, TZ: s.TZ}
		tmpl := bullmq.JobTemplate{Name: s.Name, Opts: bullmq.JobOpts{Priority: s.Priority}}
		if _, err := q.UpsertJobScheduler(ctx, s.Name, repeat, tmpl); err != nil {
			return fmt.Errorf("upsert job scheduler %s on queue %s: %w", s.Name, s.Queue, err)
		}
	}
	return nil
}
