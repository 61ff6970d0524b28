package queues

import "github.com/portnimara/nimara/jobs/notifications"

// The job names of each queue. Only jobs with a Decode have a handler in this build. The
// others are listed for their priorities, so producers and the contracts agree on them.

var emailJobs = []Job{
	{Name: "password-reset", Priority: PriorityUrgent, Description: "Password reset email"},
	{Name: "send", Priority: PriorityDefault, Description: "Transactional or user email"},
	{Name: "notification-digest", Priority: PriorityDefault,
		Description: "Batched digest of a user's unread notifications"},
}

var documentsJobs = []Job{
	{Name: "signature-webhook", Priority: PriorityHigh,
		Description: "Apply a Documenso webhook event to a document and its signers"},
	{Name: "eoi-reminder", Priority: PriorityHigh,
		Description: "Remind the next signer of an EOI"},
	{Name: "create-envelope", Priority: PriorityDefault,
		Description: "Create a Documenso envelope and assign its signers"},
	{Name: "signature-poll", Priority: PriorityDefault,
		Description: "Poll Documenso for documents with pending signatures"},
	{Name: "download-signed", Priority: PriorityDefault,
		Description: "Download a completed document and store it"},
}

var notificationsJobs = []Job{
	{Name: notifications.JobSuperAdminAlert, Priority: PriorityUrgent,
		Description: "Notify every super admin of a system alert",
		Payload:     &superAdminAlertSchema,
		Decode: func(data []byte) error {
			_, err := notifications.ParseSuperAdminAlertData(data)
			return err
		}},
	{Name: "reminder-overdue-check", Priority: PriorityHigh,
		Description: "Notify assignees of reminders past their due time"},
	{Name: notifications.JobCreate, Priority: PriorityDefault,
		Description: "Store an in-app notification for one user and push it to the browser",
		Payload:     &createSchema,
		Decode: func(data []byte) error {
			_, err := notifications.ParseCreateData(data)
			return err
		}},
	{Name: "reminder-check", Priority: PriorityDefault,
		Description: "Create follow-up reminders for inactive interests"},
	{Name: "invoice-overdue-check", Priority: PriorityDefault,
		Description: "Mark overdue invoices and notify"},
	{Name: "tenure-expiry-check", Priority: PriorityDefault,
		Description: "Notify of berth tenures approaching expiry"},
}

var importJobs = []Job{
	{Name: "csv", Priority: PriorityBackground, Description: "Import a CSV file"},
	{Name: "excel", Priority: PriorityBackground, Description: "Import an Excel workbook"},
	{Name: "berth-specs", Priority: PriorityBackground,
		Description: "Import berth specifications"},
}

var exportJobs = []Job{
	{Name: "csv", Priority: PriorityLow, Description: "Export records as CSV"},
	{Name: "pdf", Priority: PriorityLow, Description: "Export records as PDF"},
	{Name: "parent-company-report", Priority: PriorityLow,
		Description: "Build the parent company report"},
}

var reportsJobs = []Job{
	{Name: "report-scheduler", Priority: PriorityLow,
		Description: "Enqueue the scheduled reports that are due"},
	{Name: "generate", Priority: PriorityLow, Description: "Generate one scheduled report"},
}

var webhooksJobs = []Job{
	{Name: "deliver", Priority: PriorityDefault,
		Description: "Deliver one event to an outbound webhook"},
}

var maintenanceJobs = []Job{
	{Name: "calendar-sync", Priority: PriorityDefault,
		Description: "Sync connected Google calendars"},
	{Name: "currency-refresh", Priority: PriorityDefault,
		Description: "Refresh exchange rates"},
	{Name: "database-backup", Priority: PriorityDefault,
		Description: "Dump the database to object storage"},
	{Name: "session-cleanup", Priority: PriorityDefault,
		Description: "Remove expired sessions"},
	{Name: "temp-file-cleanup", Priority: PriorityDefault,
		Description: "Delete temporary and orphaned files"},
	{Name: "form-expiry-check", Priority: PriorityDefault,
		Description: "Expire form submissions past their deadline"},
	{Name: "backup-cleanup", Priority: PriorityBackground,
		Description: "Delete backups older than the retention period"},
}

var aiJobs = []Job{
	{Name: "receipt-scan", Priority: PriorityBackground,
		Description: "Read an expense receipt"},
	{Name: "berth-spec-parse", Priority: PriorityBackground,
		Description: "Parse a berth specification document"},
	{Name: "file-migration", Priority: PriorityBackground,
		Description: "Migrate a file and classify it"},
}

var bulkJobs = []Job{
	{Name: "status-change", Priority: PriorityDefault,
		Description: "Change the status of many records"},
	{Name: "tag", Priority: PriorityDefault, Description: "Tag many records"},
	{Name: "delete", Priority: PriorityDefault, Description: "Delete many records"},
}

var (
	nonEmptyString = Schema{Type: "string", MinLength: 1}

	createSchema = Schema{Type: "object", Properties: []Property{
		{Name: "userId", Required: true, Schema: Schema{Type: "string", MinLength: 1,
			Description: "Better Auth id of the recipient"}},
		{Name: "type", Required: true, Schema: Schema{Type: "string", MinLength: 1,
			Description: "Kind of notification, such as reminder.overdue"}},
		{Name: "title", Required: true, Schema: nonEmptyString},
		{Name: "portId", Schema: Schema{Type: "string", Format: "uuid", Nullable: true,
			Description: "Port of the notification; null for cross-port notifications"}},
		{Name: "description", Schema: Schema{Type: "string", Nullable: true,
			Description: "Body of the notification"}},
		{Name: "link", Schema: Schema{Type: "string", Nullable: true,
			Description: "App path the notification opens"}},
	}}

	superAdminAlertSchema = Schema{Type: "object", Properties: []Property{
		{Name: "type", Required: true, Schema: Schema{Type: "string", MinLength: 1,
			Description: "Kind of alert, such as system.jobFailed"}},
		{Name: "title", Required: true, Schema: nonEmptyString},
		{Name: "description", Schema: Schema{Type: "string", Nullable: true,
			Description: "Body of the notifications"}},
		{Name: "link", Schema: Schema{Type: "string", Nullable: true,
			Description: "App path the notifications open"}},
	}}
)
