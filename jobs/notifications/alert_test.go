package notifications

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/portnimara/nimara/bullmq"
)

func newAlertJob(id, data string) *bullmq.Job {
	return &bullmq.Job{ID: id, Name: JobSuperAdminAlert, Data: json.RawMessage(data),
		Timestamp: 1767225600000}
}

func TestSuperAdminAlert_NotifiesEverySuperAdmin(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)
	_, err := b.db.Pool.Exec(ctx, `
		INSERT INTO users (id, name, email, is_super_admin) VALUES
			('admin-1', 'Root', 'root@test.example', true),
			('admin-2', 'Ops', 'ops@test.example', true)`)
	if err != nil {
		t.Fatalf("seed super admins: %v", err)
	}

	job := newAlertJob("7", `{"type":"system.jobFailed","title":"Job email/3 failed",
		"description":"smtp down","link":null}`)
	got, err := b.handler.SuperAdminAlert(ctx, job)
	if err != nil {
		t.Fatalf("SuperAdminAlert() error = %v", err)
	}
	if ids := got.(SuperAdminAlertResult).NotificationIDs; len(ids) != 2 {
		t.Errorf("NotificationIDs = %v, want 2 ids", ids)
	}

	rows, err := b.db.Pool.Query(ctx, `SELECT user_id, type, title, body, port_id IS NULL
		FROM notifications ORDER BY user_id`)
	if err != nil {
		t.Fatalf("read notifications: %v", err)
	}
	defer rows.Close()
	var users []string
	for rows.Next() {
		var user, typ, title, body string
		var crossPort bool
		if err := rows.Scan(&user, &typ, &title, &body, &crossPort); err != nil {
			t.Fatalf("scan notification: %v", err)
		}
		users = append(users, user)
		if typ != "system.jobFailed" || title != "Job email/3 failed" || body != "smtp down" {
			t.Errorf("notification of %s = %q %q %q, want the alert", user, typ, title, body)
		}
		if !crossPort {
			t.Errorf("notification of %s has a port, want none", user)
		}
	}
	if strings.Join(users, ",") != "admin-1,admin-2" {
		t.Errorf("notified users = %v, want admin-1 and admin-2 only", users)
	}

	var news []string
	for _, e := range b.pub.events {
		if e.event == "notification:new" {
			news = append(news, strings.Join(e.rooms, ","))
		}
	}
	if strings.Join(news, " ") != "user:admin-1 user:admin-2" {
		t.Errorf("notification:new rooms = %v, want user:admin-1 and user:admin-2", news)
	}
}

func TestSuperAdminAlert_RerunStoresNoSecondRow(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)
	_, err := b.db.Pool.Exec(ctx, `INSERT INTO users (id, name, email, is_super_admin)
		VALUES ('admin-1', 'Root', 'root@test.example', true)`)
	if err != nil {
		t.Fatalf("seed super admin: %v", err)
	}

	job := newAlertJob("8", `{"type":"t","title":"x"}`)
	for range 2 {
		if _, err := b.handler.SuperAdminAlert(ctx, job); err != nil {
			t.Fatalf("SuperAdminAlert() error = %v", err)
		}
	}

	var rows int
	if err := b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM notifications`).Scan(&rows); err != nil {
		t.Fatalf("count notifications: %v", err)
	}
	if rows != 1 {
		t.Errorf("notifications rows after a rerun = %d, want 1", rows)
	}
}

func TestSuperAdminAlert_InvalidDataIsUnrecoverable(t *testing.T) {
	t.Parallel()

	h := NewHandler(nil, &recordingPublisher{}, nil)
	_, err := h.SuperAdminAlert(context.Background(), newAlertJob("9", `{"title":"x"}`))
	if err == nil || !bullmq.IsUnrecoverable(err) {
		t.Fatalf("SuperAdminAlert() error = %v, want an unrecoverable error", err)
	}
	if want := "invalid job data: type must be a non-empty string, got nothing"; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
}
