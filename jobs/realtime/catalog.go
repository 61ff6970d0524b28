package realtime

import "reflect"

// Spec describes one catalog event for tools that export the contracts.
type Spec struct {
	// Name is the Socket.IO event name.
	Name string
	// Rooms are the room patterns, such as "port:{portId}", in the order the event uses them.
	Rooms []string
	// Payload is the payload's Go type; its json tags give the field names.
	Payload reflect.Type
}

// Room patterns used in Catalog.
const (
	portPattern     = "port:{portId}"
	userPattern     = "user:{userId}"
	assigneePattern = "user:{assigneeId}"
	berthPattern    = "berth:{berthId}"
	clientPattern   = "client:{clientId}"
	interestPattern = "interest:{interestId}"
)

func spec[P any](name string, rooms ...string) Spec {
	return Spec{Name: name, Rooms: rooms, Payload: reflect.TypeFor[P]()}
}

// Catalog lists every realtime event of the CRM, grouped as the constructors are.
var Catalog = []Spec{
	spec[BerthStatusChangedPayload]("berth:statusChanged", portPattern),
	spec[BerthUpdatedPayload]("berth:updated", portPattern, berthPattern),
	spec[BerthWaitingListChangedPayload]("berth:waitingListChanged", berthPattern),
	spec[BerthMaintenanceAddedPayload]("berth:maintenanceAdded", berthPattern),

	spec[ClientCreatedPayload]("client:created", portPattern),
	spec[ClientUpdatedPayload]("client:updated", portPattern, clientPattern),
	spec[ClientRefPayload]("client:archived", portPattern),
	spec[ClientRefPayload]("client:restored", portPattern),
	spec[ClientMergedPayload]("client:merged", portPattern),
	spec[ClientNoteAddedPayload]("client:noteAdded", clientPattern),
	spec[ClientDuplicateDetectedPayload]("client:duplicateDetected", portPattern),

	spec[InterestCreatedPayload]("interest:created", portPattern),
	spec[InterestUpdatedPayload]("interest:updated", portPattern, interestPattern),
	spec[InterestStageChangedPayload]("interest:stageChanged", portPattern),
	spec[InterestBerthPayload]("interest:berthLinked", portPattern),
	spec[InterestBerthPayload]("interest:berthUnlinked", portPattern),
	spec[InterestArchivedPayload]("interest:archived", portPattern),
	spec[InterestNoteAddedPayload]("interest:noteAdded", interestPattern),

	spec[DocumentCreatedPayload]("document:created", portPattern),
	spec[DocumentSentPayload]("document:sent", portPattern),
	spec[DocumentSignedPayload]("document:signed", portPattern, interestPattern),
	spec[DocumentCompletedPayload]("document:completed", portPattern, interestPattern),
	spec[DocumentExpiredPayload]("document:expired", portPattern),
	spec[DocumentReminderSentPayload]("document:reminderSent", interestPattern),

	spec[ExpenseCreatedPayload]("expense:created", portPattern),
	spec[ExpenseUpdatedPayload]("expense:updated", portPattern),
	spec[InvoiceCreatedPayload]("invoice:created", portPattern),
	spec[InvoiceSentPayload]("invoice:sent", portPattern),
	spec[InvoicePaidPayload]("invoice:paid", portPattern),
	spec[InvoiceOverduePayload]("invoice:overdue", portPattern),

	spec[ReminderCreatedPayload]("reminder:created", assigneePattern, portPattern),
	spec[ReminderUpdatedPayload]("reminder:updated", assigneePattern),
	spec[ReminderCompletedPayload]("reminder:completed", assigneePattern, portPattern),
	spec[ReminderOverduePayload]("reminder:overdue", assigneePattern),
	spec[ReminderSnoozedPayload]("reminder:snoozed", assigneePattern),
	spec[CalendarSyncedPayload]("calendar:synced", userPattern),
	spec[CalendarDisconnectedPayload]("calendar:disconnected", userPattern),

	spec[NotificationNewPayload]("notification:new", userPattern),
	spec[NotificationUnreadCountPayload]("notification:unreadCount", userPattern),

	spec[SystemAlertPayload]("system:alert", GlobalRoom),
	spec[SystemJobFailedPayload]("system:jobFailed", GlobalRoom),
	spec[RegistrationNewPayload]("registration:new", portPattern),

	spec[InterestRecommendationsGeneratedPayload]("interest:recommendationsGenerated",
		interestPattern, portPattern),
	spec[InterestRecommendationAddedPayload]("interest:recommendationAdded", interestPattern),
	spec[InterestLeadCategoryChangedPayload]("interest:leadCategoryChanged", portPattern,
		interestPattern),
	spec[FileUploadedPayload]("file:uploaded", clientPattern, portPattern),
	spec[FileDeletedPayload]("file:deleted", clientPattern),
}
