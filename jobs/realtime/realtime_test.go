package realtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portnimara/nimara/internal/redistest"
	"github.com/portnimara/nimara/socketio/emitter"
)

// crmEventTable is the CRM's realtime event table, typed in by hand: event name, rooms and
// payload fields in the documented order.
var crmEventTable = []struct {
	name   string
	rooms  string
	fields string
}{
	{"berth:statusChanged", "port:{portId}", "berthId, oldStatus, newStatus, triggeredBy"},
	{"berth:updated", "port:{portId}, berth:{berthId}", "berthId, changedFields"},
	{"berth:waitingListChanged", "berth:{berthId}", "berthId, action, entry"},
	{"berth:maintenanceAdded", "berth:{berthId}", "berthId, logEntry"},
	{"client:created", "port:{portId}", "clientId, clientName, source"},
	{"client:updated", "port:{portId}, client:{clientId}", "clientId, changedFields"},
	{"client:archived", "port:{portId}", "clientId"},
	{"client:restored", "port:{portId}", "clientId"},
	{"client:merged", "port:{portId}", "survivingId, mergedId"},
	{"client:noteAdded", "client:{clientId}", "clientId, noteId, authorName, preview"},
	{"client:duplicateDetected", "port:{portId}", "clientAId, clientBId, score, reason"},
	{"interest:created", "port:{portId}", "interestId, clientId, berthId, source"},
	{"interest:updated", "port:{portId}, interest:{interestId}", "interestId, changedFields"},
	{"interest:stageChanged", "port:{portId}",
		"interestId, oldStage, newStage, clientName, berthNumber"},
	{"interest:berthLinked", "port:{portId}", "interestId, berthId"},
	{"interest:berthUnlinked", "port:{portId}", "interestId, berthId"},
	{"interest:archived", "port:{portId}", "interestId"},
	{"interest:noteAdded", "interest:{interestId}", "interestId, noteId, authorName, preview"},
	{"document:created", "port:{portId}", "documentId, type, interestId"},
	{"document:sent", "port:{portId}", "documentId, type, signerCount"},
	{"document:signed", "port:{portId}, interest:{interestId}",
		"documentId, signerName, signerRole, remainingSigners"},
	{"document:completed", "port:{portId}, interest:{interestId}",
		"documentId, type, interestId, clientName"},
	{"document:expired", "port:{portId}", "documentId"},
	{"document:reminderSent", "interest:{interestId}", "documentId, recipientEmail"},
	{"expense:created", "port:{portId}", "expenseId, amount, currency, category"},
	{"expense:updated", "port:{portId}", "expenseId, changedFields"},
	{"invoice:created", "port:{portId}", "invoiceId, invoiceNumber, total, clientName"},
	{"invoice:sent", "port:{portId}", "invoiceId, invoiceNumber, recipientEmail"},
	{"invoice:paid", "port:{portId}", "invoiceId, invoiceNumber, amount"},
	{"invoice:overdue", "port:{portId}", "invoiceId, invoiceNumber, daysPastDue"},
	{"reminder:created", "user:{assigneeId}, port:{portId}",
		"reminderId, title, assignedTo, dueAt"},
	{"reminder:updated", "user:{assigneeId}", "reminderId, changedFields"},
	{"reminder:completed", "user:{assigneeId}, port:{portId}",
		"reminderId, title, completedBy"},
	{"reminder:overdue", "user:{assigneeId}", "reminderId, title, dueAt"},
	{"reminder:snoozed", "user:{assigneeId}", "reminderId, snoozedUntil"},
	{"calendar:synced", "user:{userId}", "eventCount, lastSyncAt"},
	{"calendar:disconnected", "user:{userId}", "reason"},
	{"notification:new", "user:{userId}", "notificationId, type, title, description, link"},
	{"notification:unreadCount", "user:{userId}", "count"},
	{"system:alert", "global", "alertType, message, severity"},
	{"system:jobFailed", "global", "queueName, jobId, error"},
	{"registration:new", "port:{portId}", "clientId, interestId, clientName, berthNumber"},
	{"interest:recommendationsGenerated", "interest:{interestId}, port:{portId}",
		"interestId, count, topBerthId"},
	{"interest:recommendationAdded", "interest:{interestId}",
		"interestId, berthId, source, matchScore"},
	{"interest:leadCategoryChanged", "port:{portId}, interest:{interestId}",
		"interestId, oldCategory, newCategory, auto"},
	{"file:uploaded", "client:{clientId}, port:{portId}", "fileId, filename, clientId, category"},
	{"file:deleted", "client:{clientId}", "fileId, filename"},
}

func jsonFieldNames(t reflect.Type) []string {
	var names []string
	for f := range t.Fields() {
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		names = append(names, tag)
	}
	return names
}

func TestCatalog_MatchesCRMTable(t *testing.T) {
	t.Parallel()

	if len(Catalog) != len(crmEventTable) {
		t.Errorf("Catalog has %d events, the CRM table %d", len(Catalog), len(crmEventTable))
	}

	byName := map[string]Spec{}
	for _, s := range Catalog {
		if _, dup := byName[s.Name]; dup {
			t.Errorf("Catalog lists %s twice", s.Name)
		}
		byName[s.Name] = s
	}

	for _, want := range crmEventTable {
		s, ok := byName[want.name]
		if !ok {
			t.Errorf("Catalog lacks %s", want.name)
			continue
		}
		if got := strings.Join(s.Rooms, ", "); got != want.rooms {
			t.Errorf("%s rooms = %q, want %q", want.name, got, want.rooms)
		}
		if got := strings.Join(jsonFieldNames(s.Payload), ", "); got != want.fields {
			t.Errorf("%s payload fields = %q, want %q", want.name, got, want.fields)
		}
	}
}

type namedEvent interface {
	Name() string
	Rooms() []string
}

// Ids used to build every event. Each room pattern expands with the matching id.
const (
	portID     = "p-1"
	userID     = "u-1"
	berthID    = "b-1"
	clientID   = "c-1"
	interestID = "i-1"
)

func expandRooms(patterns []string) []string {
	r := strings.NewReplacer("{portId}", portID, "{userId}", userID, "{assigneeId}", userID,
		"{berthId}", berthID, "{clientId}", clientID, "{interestId}", interestID)
	out := make([]string, len(patterns))
	for i, p := range patterns {
		out[i] = r.Replace(p)
	}
	return out
}

func TestConstructors_RoomsMatchCatalog(t *testing.T) {
	t.Parallel()

	events := []namedEvent{
		BerthStatusChanged(portID, BerthStatusChangedPayload{BerthID: berthID}),
		BerthUpdated(portID, BerthUpdatedPayload{BerthID: berthID}),
		BerthWaitingListChanged(BerthWaitingListChangedPayload{BerthID: berthID}),
		BerthMaintenanceAdded(BerthMaintenanceAddedPayload{BerthID: berthID}),
		ClientCreated(portID, ClientCreatedPayload{ClientID: clientID}),
		ClientUpdated(portID, ClientUpdatedPayload{ClientID: clientID}),
		ClientArchived(portID, ClientRefPayload{ClientID: clientID}),
		ClientRestored(portID, ClientRefPayload{ClientID: clientID}),
		ClientMerged(portID, ClientMergedPayload{}),
		ClientNoteAdded(ClientNoteAddedPayload{ClientID: clientID}),
		ClientDuplicateDetected(portID, ClientDuplicateDetectedPayload{}),
		InterestCreated(portID, InterestCreatedPayload{InterestID: interestID}),
		InterestUpdated(portID, InterestUpdatedPayload{InterestID: interestID}),
		InterestStageChanged(portID, InterestStageChangedPayload{InterestID: interestID}),
		InterestBerthLinked(portID, InterestBerthPayload{InterestID: interestID}),
		InterestBerthUnlinked(portID, InterestBerthPayload{InterestID: interestID}),
		InterestArchived(portID, InterestArchivedPayload{InterestID: interestID}),
		InterestNoteAdded(InterestNoteAddedPayload{InterestID: interestID}),
		DocumentCreated(portID, DocumentCreatedPayload{}),
		DocumentSent(portID, DocumentSentPayload{}),
		DocumentSigned(portID, interestID, DocumentSignedPayload{}),
		DocumentCompleted(portID, DocumentCompletedPayload{InterestID: interestID}),
		DocumentExpired(portID, DocumentExpiredPayload{}),
		DocumentReminderSent(interestID, DocumentReminderSentPayload{}),
		ExpenseCreated(portID, ExpenseCreatedPayload{}),
		ExpenseUpdated(portID, ExpenseUpdatedPayload{}),
		InvoiceCreated(portID, InvoiceCreatedPayload{}),
		InvoiceSent(portID, InvoiceSentPayload{}),
		InvoicePaid(portID, InvoicePaidPayload{}),
		InvoiceOverdue(portID, InvoiceOverduePayload{}),
		ReminderCreated(userID, portID, ReminderCreatedPayload{}),
		ReminderUpdated(userID, ReminderUpdatedPayload{}),
		ReminderCompleted(userID, portID, ReminderCompletedPayload{}),
		ReminderOverdue(userID, ReminderOverduePayload{}),
		ReminderSnoozed(userID, ReminderSnoozedPayload{}),
		CalendarSynced(userID, CalendarSyncedPayload{}),
		CalendarDisconnected(userID, CalendarDisconnectedPayload{}),
		NotificationNew(userID, NotificationNewPayload{}),
		NotificationUnreadCount(userID, NotificationUnreadCountPayload{}),
		SystemAlert(SystemAlertPayload{}),
		SystemJobFailed(SystemJobFailedPayload{}),
		RegistrationNew(portID, RegistrationNewPayload{}),
		InterestRecommendationsGenerated(portID,
			InterestRecommendationsGeneratedPayload{InterestID: interestID}),
		InterestRecommendationAdded(InterestRecommendationAddedPayload{InterestID: interestID}),
		InterestLeadCategoryChanged(portID,
			InterestLeadCategoryChangedPayload{InterestID: interestID}),
		FileUploaded(portID, FileUploadedPayload{ClientID: clientID}),
		FileDeleted(clientID, FileDeletedPayload{}),
	}

	specs := map[string]Spec{}
	for _, s := range Catalog {
		specs[s.Name] = s
	}

	built := map[string]bool{}
	for _, ev := range events {
		built[ev.Name()] = true
		s, ok := specs[ev.Name()]
		if !ok {
			t.Errorf("constructor built %s, which is not in Catalog", ev.Name())
			continue
		}
		if want := expandRooms(s.Rooms); !slices.Equal(ev.Rooms(), want) {
			t.Errorf("%s rooms = %v, want %v", ev.Name(), ev.Rooms(), want)
		}
	}
	for _, s := range Catalog {
		if !built[s.Name] {
			t.Errorf("no constructor case covers %s", s.Name)
		}
	}
}

// publishCall is one Publish call recorded by fakePublisher.
type publishCall struct {
	rooms   []string
	event   string
	payload any
}

type fakePublisher struct {
	calls []publishCall
	err   error
}

func (f *fakePublisher) Publish(_ context.Context, rooms []string, event string,
	payload any,
) error {
	f.calls = append(f.calls, publishCall{rooms: rooms, event: event, payload: payload})
	return f.err
}

func TestEvent_EmitPublishesNameRoomsPayload(t *testing.T) {
	t.Parallel()

	pub := &fakePublisher{}
	link := "/clients/c-1"
	payload := NotificationNewPayload{NotificationID: "n-1", Type: "document.signed",
		Title: "Signed", Link: &link}

	if err := NotificationNew("u-7", payload).Emit(context.Background(), pub); err != nil {
		t.Fatalf("Emit() error = %v", err)
	}

	if len(pub.calls) != 1 {
		t.Fatalf("Publish called %d times, want 1", len(pub.calls))
	}
	call := pub.calls[0]
	if call.event != "notification:new" {
		t.Errorf("event = %q, want notification:new", call.event)
	}
	if !slices.Equal(call.rooms, []string{"user:u-7"}) {
		t.Errorf("rooms = %v, want [user:u-7]", call.rooms)
	}

	got, err := json.Marshal(call.payload)
	if err != nil {
		t.Fatalf("marshal payload: %v", err)
	}
	want := `{"notificationId":"n-1","type":"document.signed","title":"Signed",` +
		`"description":null,"link":"/clients/c-1"}`
	if string(got) != want {
		t.Errorf("payload JSON = %s, want %s", got, want)
	}
}

func TestEvent_EmitRejectsEmptyRoomID(t *testing.T) {
	t.Parallel()

	pub := &fakePublisher{}
	err := BerthUpdated("p-1", BerthUpdatedPayload{}).Emit(context.Background(), pub)
	if err == nil {
		t.Fatal("Emit() with an empty berth id = nil, want an error")
	}
	if !strings.Contains(err.Error(), `room "berth:" has an empty id`) {
		t.Errorf("Emit() error = %q, want it to name the room", err)
	}
	if len(pub.calls) != 0 {
		t.Errorf("Publish called %d times, want 0", len(pub.calls))
	}
}

func TestEvent_EmitRejectsZeroEvent(t *testing.T) {
	t.Parallel()

	pub := &fakePublisher{}
	var ev Event[SystemAlertPayload]
	if err := ev.Emit(context.Background(), pub); err == nil {
		t.Fatal("Emit() of a zero Event = nil, want an error")
	}
	if len(pub.calls) != 0 {
		t.Errorf("Publish called %d times, want 0", len(pub.calls))
	}
}

func TestEvent_EmitWrapsPublisherError(t *testing.T) {
	t.Parallel()

	cause := errors.New("connection refused")
	pub := &fakePublisher{err: cause}
	err := SystemAlert(SystemAlertPayload{}).Emit(context.Background(), pub)
	if !errors.Is(err, cause) {
		t.Fatalf("Emit() error = %v, want it to wrap %v", err, cause)
	}
	if !strings.Contains(err.Error(), "emit system:alert to global") {
		t.Errorf("Emit() error = %q, want it to name the event and room", err)
	}
}

func TestEvent_RoomsReturnsCopy(t *testing.T) {
	t.Parallel()

	ev := SystemAlert(SystemAlertPayload{})
	ev.Rooms()[0] = "changed"
	if ev.Rooms()[0] != GlobalRoom {
		t.Errorf("Rooms()[0] = %q after changing a copy, want %q", ev.Rooms()[0], GlobalRoom)
	}
}

func TestEmitterPublisher_PublishesToRoomChannel(t *testing.T) {
	t.Parallel()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	client := redistest.Client(t)
	key := redistest.Prefix(t) + "-sio"

	sub := client.PSubscribe(ctx, key+"#*")
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatalf("psubscribe: %v", err)
	}

	pub := NewEmitterPublisher(emitter.New(client, emitter.Options{Key: key}))
	ev := NotificationUnreadCount("u-42", NotificationUnreadCountPayload{Count: 3})
	if err := ev.Emit(ctx, pub); err != nil {
		t.Fatalf("Emit() error = %v", err)
	}

	msg, err := sub.ReceiveMessage(ctx)
	if err != nil {
		t.Fatalf("receive message: %v", err)
	}
	if want := key + "#/#user:u-42#"; msg.Channel != want {
		t.Errorf("channel = %q, want %q", msg.Channel, want)
	}
	for _, part := range []string{"notification:unreadCount", "count", "user:u-42"} {
		if !bytes.Contains([]byte(msg.Payload), []byte(part)) {
			t.Errorf("message %q does not contain %q", msg.Payload, part)
		}
	}
}
