package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Table names a table and the columns the workers read or write in it.
type Table struct {
	Name    string
	Columns []string
}

// RequiredTables lists every table and column that the worker handlers use. Check compares
// it with a live database; the development migrations create all of it. Columns that only
// the Node app uses, such as the Better Auth admin-plugin columns, are left out.
var RequiredTables = []Table{
	{"ports", []string{"id", "name", "slug", "timezone", "default_currency", "created_at",
		"updated_at"}},
	{"users", []string{"id", "name", "email", "email_verified", "image", "is_super_admin",
		"default_port_id", "timezone", "digest_frequency", "digest_hour",
		"last_digest_sent_at", "created_at", "updated_at"}},
	{"sessions", []string{"id", "token", "user_id", "expires_at", "ip_address", "user_agent",
		"created_at", "updated_at"}},
	{"berths", []string{"id", "port_id", "code", "status", "tenure_holder_client_id",
		"tenure_expires_at", "tenure_notice_stage", "created_at", "updated_at"}},
	{"clients", []string{"id", "port_id", "full_name", "email", "phone", "company",
		"owner_user_id", "created_at", "updated_at"}},
	{"interests", []string{"id", "port_id", "client_id", "berth_id", "assigned_to", "stage",
		"lead_category", "eoi_status", "reminder_enabled", "reminder_interval_days",
		"last_activity_at", "last_follow_up_reminder_at", "created_at", "updated_at"}},
	{"documents", []string{"id", "port_id", "interest_id", "client_id", "kind", "title",
		"status", "documenso_envelope_id", "documenso_legacy_id", "documenso_item_id",
		"signing_order", "source_file_id", "signed_file_id", "sent_at", "completed_at",
		"last_polled_at", "last_webhook_at", "created_by", "created_at", "updated_at"}},
	{"document_signers", []string{"id", "document_id", "documenso_recipient_id", "email",
		"name", "role", "signing_order", "signing_status", "read_status", "signed_at",
		"rejection_reason", "signature_hash", "updated_at"}},
	{"invoices", []string{"id", "port_id", "client_id", "interest_id", "number", "status",
		"currency", "total_amount", "amount_paid", "issue_date", "due_date",
		"overdue_notified_at", "paid_at", "created_by", "created_at", "updated_at"}},
	{"reminders", []string{"id", "port_id", "interest_id", "client_id", "assignee_id",
		"created_by", "kind", "title", "notes", "due_at", "snoozed_until", "completed_at",
		"overdue_notified_at", "dedupe_key", "created_at", "updated_at"}},
	{"notifications", []string{"id", "user_id", "port_id", "type", "title", "body", "link",
		"entity_type", "entity_id", "data", "read_at", "digested_at", "dedupe_key",
		"created_at"}},
	{"google_calendar_tokens", []string{"user_id", "google_email", "access_token",
		"refresh_token", "access_token_expires_at", "scope", "calendar_id", "sync_token",
		"status", "disconnected_at", "disconnect_reason", "last_synced_at", "created_at",
		"updated_at"}},
	{"google_calendar_cache", []string{"id", "user_id", "calendar_id", "google_event_id",
		"status", "summary", "location", "html_link", "all_day", "start_at", "end_at",
		"start_date", "end_date", "event_time_zone", "recurring_event_id", "crm_entity_type",
		"crm_entity_id", "google_updated_at", "synced_at"}},
	{"exchange_rates", []string{"base_currency", "quote_currency", "rate", "rate_date",
		"source", "fetched_at"}},
	{"scheduled_reports", []string{"id", "port_id", "created_by", "name", "report_type",
		"params", "format", "cron_expression", "timezone", "recipients", "enabled",
		"next_run_at", "last_run_at", "last_status", "last_error", "locked_until",
		"created_at", "updated_at"}},
	{"form_submissions", []string{"id", "port_id", "form_type", "client_id", "interest_id",
		"token_hash", "status", "expires_at", "submitted_at", "payload", "created_by",
		"created_at", "updated_at"}},
	{"system_settings", []string{"key", "value", "updated_by", "updated_at"}},
	{"webhooks", []string{"id", "port_id", "url", "description", "secret", "previous_secret",
		"previous_secret_expires_at", "event_types", "enabled", "disabled_reason",
		"consecutive_failures", "created_by", "created_at", "updated_at"}},
	{"webhook_deliveries", []string{"id", "webhook_id", "event_id", "event_type",
		"message_id", "payload", "status", "attempt_count", "next_attempt_at",
		"last_attempt_at", "response_status", "response_excerpt", "last_error", "created_at",
		"delivered_at"}},
	{"audit_log", []string{"id", "port_id", "actor_type", "actor_user_id", "action",
		"entity_type", "entity_id", "metadata", "ip_address", "created_at"}},
	{"files", []string{"id", "port_id", "bucket", "object_key", "original_name",
		"content_type", "size_bytes", "sha256", "purpose", "entity_type", "entity_id",
		"status", "uploaded_by", "expires_at", "created_at", "deleted_at"}},
}

// Missing is a table or column of RequiredTables that the database lacks. Column is empty
// when the whole table is missing.
type Missing struct {
	Table  string
	Column string
}

func (m Missing) String() string {
	if m.Column == "" {
		return "table " + m.Table
	}
	return "column " + m.Table + "." + m.Column
}

// Querier runs a query; *pgxpool.Pool, *pgx.Conn and pgx.Tx satisfy it.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Check compares RequiredTables with the tables and columns of the current schema (the
// first schema of the search_path) and returns what is missing, in RequiredTables order.
// A missing table is reported once, without its columns.
func Check(ctx context.Context, db Querier) ([]Missing, error) {
	const query = `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = current_schema()`
	rows, err := db.Query(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("read information_schema.columns: %w", err)
	}

	live := map[string]map[string]bool{}
	var table, column string
	_, err = pgx.ForEachRow(rows, []any{&table, &column}, func() error {
		if live[table] == nil {
			live[table] = map[string]bool{}
		}
		live[table][column] = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read information_schema.columns: %w", err)
	}

	return compareTables(RequiredTables, live), nil
}

func compareTables(required []Table, live map[string]map[string]bool) []Missing {
	var missing []Missing
	for _, t := range required {
		columns, ok := live[t.Name]
		if !ok {
			missing = append(missing, Missing{Table: t.Name})
			continue
		}
		for _, c := range t.Columns {
			if !columns[c] {
				missing = append(missing, Missing{Table: t.Name, Column: c})
			}
		}
	}
	return missing
}
