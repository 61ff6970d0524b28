package notifications

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"

	"github.com/portnimara/nimara/bullmq"
)

// JobSuperAdminAlert is the name of the job that notifies every super admin of a system
// alert, such as a job that failed for good. Producers give it priority 1.
const JobSuperAdminAlert = "super-admin-alert"

// SuperAdminAlertData is the data of a super-admin-alert job:
// {type, title, description, link}.
type SuperAdminAlertData struct {
	// Type names the kind of alert, such as "system.jobFailed".
	Type  string
	Title string
	// Description is stored as each notification's body. Nil means no body.
	Description *string
	// Link is the app path the notifications open. Nil means none.
	Link *string
}

// ParseSuperAdminAlertData decodes and validates the data of a super-admin-alert job.
// Errors start with "invalid job data:", as those of ParseCreateData.
func ParseSuperAdminAlertData(raw []byte) (SuperAdminAlertData, error) {
	var data SuperAdminAlertData
	fields, err := decodeFields(raw)
	if err != nil {
		return data, err
	}

	if data.Type, err = requiredString(fields, "type"); err != nil {
		return data, err
	}
	if data.Title, err = requiredString(fields, "title"); err != nil {
		return data, err
	}
	if data.Description, err = optionalString(fields, "description"); err != nil {
		return data, err
	}
	if data.Link, err = optionalString(fields, "link"); err != nil {
		return data, err
	}
	return data, nil
}

// SuperAdminAlertResult is the return value of a super-admin-alert job.
type SuperAdminAlertResult struct {
	// NotificationIDs are the notifications stored, one per super admin.
	NotificationIDs []string `json:"notificationIds"`
}

// SuperAdminAlert processes a super-admin-alert job: it stores one cross-port notification
// for every user with is_super_admin and emits notification:new and
// notification:unreadCount to each of them. A fleet without super admins completes the
// job with no notification.
//
// Each row's dedupe key is the job's key plus the user id, so a retried job stores no
// second row for the admins it already notified and only emits their events again.
func (h *Handler) SuperAdminAlert(ctx context.Context, job *bullmq.Job) (any, error) {
	data, err := ParseSuperAdminAlertData(job.Data)
	if err != nil {
		return nil, bullmq.Unrecoverable(err)
	}

	admins, err := h.superAdmins(ctx)
	if err != nil {
		return nil, err
	}

	result := SuperAdminAlertResult{NotificationIDs: []string{}}
	for _, userID := range admins {
		create := CreateData{UserID: userID, Type: data.Type, Title: data.Title,
			Description: data.Description, Link: data.Link}
		id, err := h.notify(ctx, create, dedupeKey(job)+":"+userID)
		if err != nil {
			return nil, err
		}
		result.NotificationIDs = append(result.NotificationIDs, id)
	}

	h.logger.InfoContext(ctx, "Super admins notified", slog.String("job_id", job.ID),
		slog.String("type", data.Type), slog.Int("count", len(admins)))
	return result, nil
}

// superAdmins returns the ids of the super admins, in id order.
func (h *Handler) superAdmins(ctx context.Context) ([]string, error) {
	const query = `SELECT id FROM users WHERE is_super_admin ORDER BY id`
	rows, err := h.db.Query(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("list super admins: %w", err)
	}

	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list super admins: %w", err)
	}
	return ids, nil
}
