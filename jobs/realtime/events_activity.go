package realtime

import "time"

// Document events.

// DocumentCreatedPayload is the payload of document:created.
type DocumentCreatedPayload struct {
	DocumentID string `json:"documentId"`
	Type       string `json:"type"`
	// InterestID is null for documents not tied to an interest.
	InterestID *string `json:"interestId"`
}

// DocumentCreated builds document:created for port:{portId}.
func DocumentCreated(portID string, p DocumentCreatedPayload) Event[DocumentCreatedPayload] {
	return newEvent("document:created", p, PortRoom(portID))
}

// DocumentSentPayload is the payload of document:sent.
type DocumentSentPayload struct {
	DocumentID  string `json:"documentId"`
	Type        string `json:"type"`
	SignerCount int    `json:"signerCount"`
}

// DocumentSent builds document:sent for port:{portId}: the document was sent for signing.
func DocumentSent(portID string, p DocumentSentPayload) Event[DocumentSentPayload] {
	return newEvent("document:sent", p, PortRoom(portID))
}

// DocumentSignedPayload is the payload of document:signed.
type DocumentSignedPayload struct {
	DocumentID       string `json:"documentId"`
	SignerName       string `json:"signerName"`
	SignerRole       string `json:"signerRole"`
	RemainingSigners int    `json:"remainingSigners"`
}

// DocumentSigned builds document:signed for port:{portId} and interest:{interestId}: one
// signer completed. The payload carries no interest id, so it is a separate argument.
func DocumentSigned(portID, interestID string, p DocumentSignedPayload,
) Event[DocumentSignedPayload] {
	return newEvent("document:signed", p, PortRoom(portID), InterestRoom(interestID))
}

// DocumentCompletedPayload is the payload of document:completed.
type DocumentCompletedPayload struct {
	DocumentID string `json:"documentId"`
	Type       string `json:"type"`
	InterestID string `json:"interestId"`
	ClientName string `json:"clientName"`
}

// DocumentCompleted builds document:completed for port:{portId} and interest:{interestId}:
// every signer completed.
func DocumentCompleted(portID string, p DocumentCompletedPayload,
) Event[DocumentCompletedPayload] {
	return newEvent("document:completed", p, PortRoom(portID), InterestRoom(p.InterestID))
}

// DocumentExpiredPayload is the payload of document:expired.
type DocumentExpiredPayload struct {
	DocumentID string `json:"documentId"`
}

// DocumentExpired builds document:expired for port:{portId}.
func DocumentExpired(portID string, p DocumentExpiredPayload) Event[DocumentExpiredPayload] {
	return newEvent("document:expired", p, PortRoom(portID))
}

// DocumentReminderSentPayload is the payload of document:reminderSent.
type DocumentReminderSentPayload struct {
	DocumentID     string `json:"documentId"`
	RecipientEmail string `json:"recipientEmail"`
}

// DocumentReminderSent builds document:reminderSent for interest:{interestId}: a signing
// reminder was sent.
func DocumentReminderSent(interestID string, p DocumentReminderSentPayload,
) Event[DocumentReminderSentPayload] {
	return newEvent("document:reminderSent", p, InterestRoom(interestID))
}

// Financial events. Money amounts are decimal strings, as PostgreSQL returns numeric(14,2)
// values, so no precision is lost on the way to the browser.
// NOTE: the CRM's event table does not give the JSON type of amounts; strings are assumed.

// ExpenseCreatedPayload is the payload of expense:created.
type ExpenseCreatedPayload struct {
	ExpenseID string `json:"expenseId"`
	Amount    string `json:"amount"`
	Currency  string `json:"currency"`
	Category  string `json:"category"`
}

// ExpenseCreated builds expense:created for port:{portId}.
func ExpenseCreated(portID string, p ExpenseCreatedPayload) Event[ExpenseCreatedPayload] {
	return newEvent("expense:created", p, PortRoom(portID))
}

// ExpenseUpdatedPayload is the payload of expense:updated.
type ExpenseUpdatedPayload struct {
	ExpenseID     string   `json:"expenseId"`
	ChangedFields []string `json:"changedFields"`
}

// ExpenseUpdated builds expense:updated for port:{portId}.
func ExpenseUpdated(portID string, p ExpenseUpdatedPayload) Event[ExpenseUpdatedPayload] {
	return newEvent("expense:updated", p, PortRoom(portID))
}

// InvoiceCreatedPayload is the payload of invoice:created.
type InvoiceCreatedPayload struct {
	InvoiceID     string `json:"invoiceId"`
	InvoiceNumber string `json:"invoiceNumber"`
	Total         string `json:"total"`
	ClientName    string `json:"clientName"`
}

// InvoiceCreated builds invoice:created for port:{portId}.
func InvoiceCreated(portID string, p InvoiceCreatedPayload) Event[InvoiceCreatedPayload] {
	return newEvent("invoice:created", p, PortRoom(portID))
}

// InvoiceSentPayload is the payload of invoice:sent.
type InvoiceSentPayload struct {
	InvoiceID      string `json:"invoiceId"`
	InvoiceNumber  string `json:"invoiceNumber"`
	RecipientEmail string `json:"recipientEmail"`
}

// InvoiceSent builds invoice:sent for port:{portId}: the invoice was emailed.
func InvoiceSent(portID string, p InvoiceSentPayload) Event[InvoiceSentPayload] {
	return newEvent("invoice:sent", p, PortRoom(portID))
}

// InvoicePaidPayload is the payload of invoice:paid.
type InvoicePaidPayload struct {
	InvoiceID     string `json:"invoiceId"`
	InvoiceNumber string `json:"invoiceNumber"`
	Amount        string `json:"amount"`
}

// InvoicePaid builds invoice:paid for port:{portId}: a payment was recorded.
func InvoicePaid(portID string, p InvoicePaidPayload) Event[InvoicePaidPayload] {
	return newEvent("invoice:paid", p, PortRoom(portID))
}

// InvoiceOverduePayload is the payload of invoice:overdue.
type InvoiceOverduePayload struct {
	InvoiceID     string `json:"invoiceId"`
	InvoiceNumber string `json:"invoiceNumber"`
	DaysPastDue   int    `json:"daysPastDue"`
}

// InvoiceOverdue builds invoice:overdue for port:{portId}.
func InvoiceOverdue(portID string, p InvoiceOverduePayload) Event[InvoiceOverduePayload] {
	return newEvent("invoice:overdue", p, PortRoom(portID))
}

// Reminder and calendar events. The rooms name the assignee's user id, which the payloads
// do not always carry, so constructors take it as an argument.

// ReminderCreatedPayload is the payload of reminder:created.
type ReminderCreatedPayload struct {
	ReminderID string    `json:"reminderId"`
	Title      string    `json:"title"`
	AssignedTo string    `json:"assignedTo"`
	DueAt      time.Time `json:"dueAt"`
}

// ReminderCreated builds reminder:created for user:{assigneeId} and port:{portId}.
func ReminderCreated(assigneeID, portID string, p ReminderCreatedPayload,
) Event[ReminderCreatedPayload] {
	return newEvent("reminder:created", p, UserRoom(assigneeID), PortRoom(portID))
}

// ReminderUpdatedPayload is the payload of reminder:updated.
type ReminderUpdatedPayload struct {
	ReminderID    string   `json:"reminderId"`
	ChangedFields []string `json:"changedFields"`
}

// ReminderUpdated builds reminder:updated for user:{assigneeId}.
func ReminderUpdated(assigneeID string, p ReminderUpdatedPayload) Event[ReminderUpdatedPayload] {
	return newEvent("reminder:updated", p, UserRoom(assigneeID))
}

// ReminderCompletedPayload is the payload of reminder:completed.
type ReminderCompletedPayload struct {
	ReminderID  string `json:"reminderId"`
	Title       string `json:"title"`
	CompletedBy string `json:"completedBy"`
}

// ReminderCompleted builds reminder:completed for user:{assigneeId} and port:{portId}.
func ReminderCompleted(assigneeID, portID string, p ReminderCompletedPayload,
) Event[ReminderCompletedPayload] {
	return newEvent("reminder:completed", p, UserRoom(assigneeID), PortRoom(portID))
}

// ReminderOverduePayload is the payload of reminder:overdue.
type ReminderOverduePayload struct {
	ReminderID string    `json:"reminderId"`
	Title      string    `json:"title"`
	DueAt      time.Time `json:"dueAt"`
}

// ReminderOverdue builds reminder:overdue for user:{assigneeId}.
func ReminderOverdue(assigneeID string, p ReminderOverduePayload) Event[ReminderOverduePayload] {
	return newEvent("reminder:overdue", p, UserRoom(assigneeID))
}

// ReminderSnoozedPayload is the payload of reminder:snoozed.
type ReminderSnoozedPayload struct {
	ReminderID   string    `json:"reminderId"`
	SnoozedUntil time.Time `json:"snoozedUntil"`
}

// ReminderSnoozed builds reminder:snoozed for user:{assigneeId}.
func ReminderSnoozed(assigneeID string, p ReminderSnoozedPayload) Event[ReminderSnoozedPayload] {
	return newEvent("reminder:snoozed", p, UserRoom(assigneeID))
}

// CalendarSyncedPayload is the payload of calendar:synced.
type CalendarSyncedPayload struct {
	EventCount int       `json:"eventCount"`
	LastSyncAt time.Time `json:"lastSyncAt"`
}

// CalendarSynced builds calendar:synced for user:{userId}: a Google Calendar sync completed.
func CalendarSynced(userID string, p CalendarSyncedPayload) Event[CalendarSyncedPayload] {
	return newEvent("calendar:synced", p, UserRoom(userID))
}

// CalendarDisconnectedPayload is the payload of calendar:disconnected.
type CalendarDisconnectedPayload struct {
	Reason string `json:"reason"`
}

// CalendarDisconnected builds calendar:disconnected for user:{userId}: the Google token was
// revoked or expired.
func CalendarDisconnected(userID string, p CalendarDisconnectedPayload,
) Event[CalendarDisconnectedPayload] {
	return newEvent("calendar:disconnected", p, UserRoom(userID))
}
