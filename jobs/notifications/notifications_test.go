package notifications

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/portnimara/nimara/bullmq"
	"github.com/portnimara/nimara/store/storetest"
)

const testPortID = "7c0c5b8e-2a5e-4c55-9a55-0d5a3c1e0001"

// published is one event recorded by recordingPublisher.
type published struct {
	rooms   []string
	event   string
	payload string // JSON
}

type recordingPublisher struct {
	mu     sync.Mutex
	events []published
	err    error
}

func (p *recordingPublisher) Publish(_ context.Context, rooms []string, event string,
	payload any,
) error {
	body, err := json.Marshal(payload)
	if err != nil {
		return err
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, published{rooms: rooms, event: event, payload: string(body)})
	return p.err
}

type testBundle struct {
	db      *storetest.DB
	pub     *recordingPublisher
	handler *Handler
}

func setup(t *testing.T) *testBundle {
	t.Helper()

	db := storetest.NewMigratedSchema(t)
	_, err := db.Pool.Exec(context.Background(), `
		INSERT INTO ports (id, name, slug) VALUES ('`+testPortID+`', 'Port', 'port');
		INSERT INTO users (id, name, email) VALUES ('u-1', 'Ana', 'ana@test.example'),
			('u-2', 'Ben', 'ben@test.example')`)
	if err != nil {
		t.Fatalf("seed port and users: %v", err)
	}

	pub := &recordingPublisher{}
	return &testBundle{db: db, pub: pub, handler: NewHandler(db.Pool, pub, nil)}
}

func newJob(id string, data string) *bullmq.Job {
	return &bullmq.Job{ID: id, Name: JobCreate, Data: json.RawMessage(data),
		Timestamp: 1767225600000}
}

func TestCreate_InsertsRowAndEmits(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)

	job := newJob("1", `{"portId":"`+testPortID+`","userId":"u-1","type":"document.signed",
		"title":"EOI signed","description":"Client signed","link":"/documents/9"}`)
	result, err := b.handler.Create(ctx, job)
	if err != nil {
		t.Fatalf("Create() error = %v", err)
	}
	id := result.(CreateResult).NotificationID

	var userID, portID, typ, title, body, link string
	var readAtNull bool
	err = b.db.Pool.QueryRow(ctx, `SELECT user_id, port_id::text, type, title, body, link,
		read_at IS NULL FROM notifications WHERE id = $1`, id).
		Scan(&userID, &portID, &typ, &title, &body, &link, &readAtNull)
	if err != nil {
		t.Fatalf("read notification %s: %v", id, err)
	}
	if userID != "u-1" {
		t.Errorf("user_id = %q, want u-1", userID)
	}
	if portID != testPortID {
		t.Errorf("port_id = %q, want %s", portID, testPortID)
	}
	if typ != "document.signed" {
		t.Errorf("type = %q, want document.signed", typ)
	}
	if title != "EOI signed" {
		t.Errorf("title = %q, want EOI signed", title)
	}
	if body != "Client signed" {
		t.Errorf("body = %q, want the description", body)
	}
	if link != "/documents/9" {
		t.Errorf("link = %q, want /documents/9", link)
	}
	if !readAtNull {
		t.Error("read_at is set, want NULL for a new notification")
	}

	if len(b.pub.events) != 2 {
		t.Fatalf("published %d events, want 2: %+v", len(b.pub.events), b.pub.events)
	}
	created, count := b.pub.events[0], b.pub.events[1]
	if created.event != "notification:new" {
		t.Errorf("first event = %q, want notification:new", created.event)
	}
	if !slices.Equal(created.rooms, []string{"user:u-1"}) {
		t.Errorf("notification:new rooms = %v, want [user:u-1]", created.rooms)
	}
	wantPayload := `{"notificationId":"` + id + `","type":"document.signed",` +
		`"title":"EOI signed","description":"Client signed","link":"/documents/9"}`
	if created.payload != wantPayload {
		t.Errorf("notification:new payload = %s, want %s", created.payload, wantPayload)
	}
	if count.event != "notification:unreadCount" {
		t.Errorf("second event = %q, want notification:unreadCount", count.event)
	}
	if !slices.Equal(count.rooms, []string{"user:u-1"}) {
		t.Errorf("notification:unreadCount rooms = %v, want [user:u-1]", count.rooms)
	}
	if count.payload != `{"count":1}` {
		t.Errorf("notification:unreadCount payload = %s, want {\"count\":1}", count.payload)
	}

	rv, err := json.Marshal(result)
	if err != nil {
		t.Fatalf("marshal result: %v", err)
	}
	if want := `{"notificationId":"` + id + `"}`; string(rv) != want {
		t.Errorf("return value = %s, want %s", rv, want)
	}
}

func TestCreate_OptionalFieldsStoredAsNull(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)

	job := newJob("1", `{"userId":"u-2","type":"system","title":"Hi","link":null}`)
	result, err := b.handler.Create(ctx, job)
	if err != nil {
		t.Fatalf("Create() error = %v", err)
	}
	id := result.(CreateResult).NotificationID

	var portNull, bodyNull, linkNull bool
	err = b.db.Pool.QueryRow(ctx, `SELECT port_id IS NULL, body IS NULL, link IS NULL
		FROM notifications WHERE id = $1`, id).Scan(&portNull, &bodyNull, &linkNull)
	if err != nil {
		t.Fatalf("read notification: %v", err)
	}
	if !portNull {
		t.Error("port_id is set, want NULL")
	}
	if !bodyNull {
		t.Error("body is set, want NULL")
	}
	if !linkNull {
		t.Error("link is set, want NULL")
	}

	want := `{"notificationId":"` + id + `","type":"system","title":"Hi",` +
		`"description":null,"link":null}`
	if got := b.pub.events[0].payload; got != want {
		t.Errorf("notification:new payload = %s, want %s", got, want)
	}
}

func TestCreate_UnreadCountSkipsReadRows(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)

	_, err := b.db.Pool.Exec(ctx, `INSERT INTO notifications (user_id, type, title, read_at)
		VALUES ('u-1', 't', 'read', now()), ('u-1', 't', 'unread', NULL),
			('u-2', 't', 'other user', NULL)`)
	if err != nil {
		t.Fatalf("seed notifications: %v", err)
	}

	job := newJob("5", `{"userId":"u-1","type":"t","title":"x"}`)
	if _, err := b.handler.Create(ctx, job); err != nil {
		t.Fatalf("Create() error = %v", err)
	}
	if got := b.pub.events[1].payload; got != `{"count":2}` {
		t.Errorf("unread count payload = %s, want {\"count\":2}", got)
	}
}

func TestCreate_RerunReusesRow(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)
	data := `{"userId":"u-1","type":"t","title":"once"}`

	first, err := b.handler.Create(ctx, newJob("9", data))
	if err != nil {
		t.Fatalf("first Create() error = %v", err)
	}
	second, err := b.handler.Create(ctx, newJob("9", data))
	if err != nil {
		t.Fatalf("second Create() error = %v", err)
	}
	if first != second {
		t.Errorf("rerun returned %v, want the first result %v", second, first)
	}

	// The same id with another timestamp is another job, after the queue was obliterated.
	reused := newJob("9", data)
	reused.Timestamp++
	if _, err := b.handler.Create(ctx, reused); err != nil {
		t.Fatalf("Create() of a reused job id error = %v", err)
	}

	var rows int
	if err := b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM notifications`).Scan(&rows); err != nil {
		t.Fatalf("count rows: %v", err)
	}
	if rows != 2 {
		t.Errorf("notifications rows = %d, want 2 (rerun stores nothing new)", rows)
	}
	if got := len(b.pub.events); got != 6 {
		t.Errorf("published %d events, want 6 (each run emits both events)", got)
	}
}

func TestCreate_InvalidDataIsUnrecoverable(t *testing.T) {
	t.Parallel()

	b := setup(t)
	tests := []struct {
		name    string
		data    string
		wantErr string
	}{
		{"NotJSON", `{not json`, "invalid job data: not valid JSON"},
		{"Array", `[1,2]`, "invalid job data: must be a JSON object, got an array"},
		{"Null", `null`, "invalid job data: must be a JSON object, got null"},
		{"UserIDNumber", `{"userId":42,"type":"t","title":"x"}`,
			"invalid job data: userId must be a non-empty string, got a number (42)"},
		{"UserIDMissing", `{"type":"t","title":"x"}`,
			"invalid job data: userId must be a non-empty string, got nothing"},
		{"UserIDEmpty", `{"userId":"","type":"t","title":"x"}`,
			`userId must be a non-empty string, got a string ("")`},
		{"TypeMissing", `{"userId":"u-1","title":"x"}`, "type must be a non-empty string"},
		{"TitleMissing", `{"userId":"u-1","type":"t"}`, "title must be a non-empty string"},
		{"TitleObject", `{"userId":"u-1","type":"t","title":{}}`,
			"title must be a non-empty string, got an object"},
		{"PortIDNotUUID", `{"portId":"port-1","userId":"u-1","type":"t","title":"x"}`,
			`invalid job data: portId must be a uuid, got "port-1"`},
		{"PortIDNumber", `{"portId":3,"userId":"u-1","type":"t","title":"x"}`,
			"portId must be a string or null, got a number (3)"},
		{"DescriptionBool", `{"userId":"u-1","type":"t","title":"x","description":true}`,
			"description must be a string or null, got a boolean (true)"},
		{"LinkArray", `{"userId":"u-1","type":"t","title":"x","link":["/a"]}`,
			"link must be a string or null, got an array"},
		{"UnknownUser", `{"userId":"u-9","type":"t","title":"x"}`, `user "u-9" not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			_, err := b.handler.Create(context.Background(), newJob(tt.name, tt.data))
			if err == nil {
				t.Fatalf("Create(%s) = nil error, want %q", tt.data, tt.wantErr)
			}
			if !bullmq.IsUnrecoverable(err) {
				t.Errorf("Create(%s) error %q is retryable, want unrecoverable", tt.data, err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Create(%s) error = %q, want it to contain %q", tt.data, err,
					tt.wantErr)
			}
		})
	}

	var rows int
	err := b.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM notifications`).
		Scan(&rows)
	if err != nil {
		t.Fatalf("count rows: %v", err)
	}
	if rows != 0 {
		t.Errorf("notifications rows = %d after invalid jobs, want 0", rows)
	}
}

func TestCreate_DatabaseDownIsRetryable(t *testing.T) {
	t.Parallel()

	// Nothing listens on port 1 of the loopback interface, so every query fails to connect.
	pool, err := pgxpool.New(context.Background(),
		"postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2")
	if err != nil {
		t.Fatalf("create pool: %v", err)
	}
	t.Cleanup(pool.Close)

	pub := &recordingPublisher{}
	h := NewHandler(pool, pub, nil)
	_, err = h.Create(context.Background(), newJob("1", `{"userId":"u-1","type":"t","title":"x"}`))
	if err == nil {
		t.Fatal("Create() with the database down = nil error, want an error")
	}
	if bullmq.IsUnrecoverable(err) {
		t.Errorf("Create() error %q is unrecoverable, want a retryable error", err)
	}
	if len(pub.events) != 0 {
		t.Errorf("published %d events, want 0", len(pub.events))
	}
}

func TestCreate_PublishErrorIsRetryable(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)
	cause := errors.New("redis: connection refused")
	b.pub.err = cause

	_, err := b.handler.Create(ctx, newJob("1", `{"userId":"u-1","type":"t","title":"x"}`))
	if !errors.Is(err, cause) {
		t.Fatalf("Create() error = %v, want it to wrap %v", err, cause)
	}
	if bullmq.IsUnrecoverable(err) {
		t.Errorf("Create() error %q is unrecoverable, want a retryable error", err)
	}
}

func TestHandler_HandlersListsJobs(t *testing.T) {
	t.Parallel()

	h := NewHandler(nil, nil, nil)
	fns := h.Handlers()
	if len(fns) != 2 || fns[JobCreate] == nil || fns[JobSuperAdminAlert] == nil {
		t.Errorf("Handlers() = %v, want %q and %q", fns, JobCreate, JobSuperAdminAlert)
	}
}
