// Package notifications handles the jobs of the CRM's notifications queue. The create job
// stores an in-app notification for one user and pushes notification:new and
// notification:unreadCount to that user's browsers.
package notifications

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/portnimara/nimara/bullmq"
	"github.com/portnimara/nimara/jobs/realtime"
)

// Queue is the name of the queue these handlers serve.
const Queue = "notifications"

// JobCreate is the name of the job that creates one notification.
const JobCreate = "create"

// pgForeignKeyViolation is the SQLSTATE of a foreign key violation.
const pgForeignKeyViolation = "23503"

// DB runs queries; *pgxpool.Pool satisfies it.
type DB interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Handler processes notifications jobs.
type Handler struct {
	db     DB
	pub    realtime.Publisher
	logger *slog.Logger
}

// NewHandler returns a Handler that stores notifications in db and emits realtime events
// through pub. A nil logger discards logs.
func NewHandler(db DB, pub realtime.Publisher, logger *slog.Logger) *Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{db: db, pub: pub, logger: logger.With(slog.String("queue", Queue))}
}

// Handlers returns the process functions of the queue by job name.
func (h *Handler) Handlers() map[string]bullmq.ProcessFunc {
	return map[string]bullmq.ProcessFunc{
		JobCreate:          h.Create,
		JobSuperAdminAlert: h.SuperAdminAlert,
	}
}

// CreateResult is the return value of a create job, stored as the job's returnvalue.
type CreateResult struct {
	NotificationID string `json:"notificationId"`
}

// Create processes a create job: it inserts a notifications row for data.userId and emits
// notification:new and notification:unreadCount to room user:{userId}.
//
// Invalid data and an unknown user fail the job at once through bullmq.Unrecoverable.
// Database and Redis errors are returned as they are, so the job is retried. The row's
// dedupe_key is derived from the job's queue, id and timestamp, so a retried or re-run job
// reuses the row it stored before and only emits the events again.
func (h *Handler) Create(ctx context.Context, job *bullmq.Job) (any, error) {
	data, err := ParseCreateData(job.Data)
	if err != nil {
		return nil, bullmq.Unrecoverable(err)
	}

	id, err := h.notify(ctx, data, dedupeKey(job))
	if err != nil {
		return nil, err
	}

	h.logger.DebugContext(ctx, "Notification created", slog.String("job_id", job.ID),
		slog.String("notification_id", id), slog.String("user_id", data.UserID))
	return CreateResult{NotificationID: id}, nil
}

// notify stores one notification under the dedupe key and emits notification:new and
// notification:unreadCount to the user's room. It returns the notification's id.
func (h *Handler) notify(ctx context.Context, data CreateData, key string) (string, error) {
	id, err := h.insert(ctx, data, key)
	if err != nil {
		return "", err
	}

	var unread int
	const countUnread = `SELECT count(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL`
	if err := h.db.QueryRow(ctx, countUnread, data.UserID).Scan(&unread); err != nil {
		return "", fmt.Errorf("count unread notifications of user %q: %w", data.UserID, err)
	}

	created := realtime.NotificationNew(data.UserID, realtime.NotificationNewPayload{
		NotificationID: id,
		Type:           data.Type,
		Title:          data.Title,
		Description:    data.Description,
		Link:           data.Link,
	})
	if err := created.Emit(ctx, h.pub); err != nil {
		return "", err
	}

	count := realtime.NotificationUnreadCount(data.UserID,
		realtime.NotificationUnreadCountPayload{Count: unread})
	if err := count.Emit(ctx, h.pub); err != nil {
		return "", err
	}
	return id, nil
}

// insert stores the notification and returns its id. When a row with the same dedupe key
// exists, insert returns that row's id instead.
func (h *Handler) insert(ctx context.Context, data CreateData, key string) (string, error) {
	// Selecting from users makes the insert a no-op for an unknown user, which the lookups
	// below then tell apart from a duplicate.
	const insert = `INSERT INTO notifications (user_id, port_id, type, title, body, link,
			dedupe_key)
		SELECT id, $2, $3, $4, $5, $6, $7 FROM users WHERE id = $1
		ON CONFLICT (dedupe_key) DO NOTHING
		RETURNING id::text`
	var id string
	err := h.db.QueryRow(ctx, insert, data.UserID, data.PortID, data.Type, data.Title,
		data.Description, data.Link, key).Scan(&id)
	if err == nil {
		return id, nil
	}

	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == pgForeignKeyViolation {
		// The user was deleted between the SELECT and the foreign key check.
		return "", bullmq.Unrecoverable(fmt.Errorf("user %q not found", data.UserID))
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("insert notification for user %q: %w", data.UserID, err)
	}

	const existing = `SELECT id::text FROM notifications WHERE dedupe_key = $1`
	err = h.db.QueryRow(ctx, existing, key).Scan(&id)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("look up notification %s: %w", key, err)
	}

	var found bool
	const userExists = `SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)`
	if err := h.db.QueryRow(ctx, userExists, data.UserID).Scan(&found); err != nil {
		return "", fmt.Errorf("look up user %q: %w", data.UserID, err)
	}
	if !found {
		return "", bullmq.Unrecoverable(fmt.Errorf("user %q not found", data.UserID))
	}

	// The user exists and no row carries the key, so a concurrent run of the same job
	// must have inserted the row in a transaction that is not visible yet. A retry finds it.
	return "", fmt.Errorf("insert notification %s: conflicting row not visible yet", key)
}

// dedupeKey identifies one job: ids restart when a queue is obliterated, so the creation
// timestamp is part of the key.
func dedupeKey(job *bullmq.Job) string {
	queue := Queue
	if q := job.Queue(); q != nil {
		queue = q.Key()
	}
	return "bullmq:" + queue + ":" + job.ID + ":" + strconv.FormatInt(job.Timestamp, 10)
}
