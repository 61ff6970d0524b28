package realtime

// Notification events.

// NotificationNewPayload is the payload of notification:new.
type NotificationNewPayload struct {
	NotificationID string `json:"notificationId"`
	Type           string `json:"type"`
	Title          string `json:"title"`
	// Description is null when the notification has no body.
	Description *string `json:"description"`
	// Link is null when the notification links nowhere.
	Link *string `json:"link"`
}

// NotificationNew builds notification:new for user:{userId}.
func NotificationNew(userID string, p NotificationNewPayload) Event[NotificationNewPayload] {
	return newEvent("notification:new", p, UserRoom(userID))
}

// NotificationUnreadCountPayload is the payload of notification:unreadCount.
type NotificationUnreadCountPayload struct {
	Count int `json:"count"`
}

// NotificationUnreadCount builds notification:unreadCount for user:{userId}.
func NotificationUnreadCount(userID string, p NotificationUnreadCountPayload,
) Event[NotificationUnreadCountPayload] {
	return newEvent("notification:unreadCount", p, UserRoom(userID))
}

// System events.

// SystemAlertPayload is the payload of system:alert.
type SystemAlertPayload struct {
	AlertType string `json:"alertType"`
	Message   string `json:"message"`
	Severity  string `json:"severity"`
}

// SystemAlert builds system:alert for the global room.
func SystemAlert(p SystemAlertPayload) Event[SystemAlertPayload] {
	return newEvent("system:alert", p, GlobalRoom)
}

// SystemJobFailedPayload is the payload of system:jobFailed.
type SystemJobFailedPayload struct {
	QueueName string `json:"queueName"`
	JobID     string `json:"jobId"`
	Error     string `json:"error"`
}

// SystemJobFailed builds system:jobFailed for the global room: a background job failed.
func SystemJobFailed(p SystemJobFailedPayload) Event[SystemJobFailedPayload] {
	return newEvent("system:jobFailed", p, GlobalRoom)
}

// RegistrationNewPayload is the payload of registration:new.
type RegistrationNewPayload struct {
	ClientID   string `json:"clientId"`
	InterestID string `json:"interestId"`
	ClientName string `json:"clientName"`
	// BerthNumber is null when the registration names no berth.
	BerthNumber *string `json:"berthNumber"`
}

// RegistrationNew builds registration:new for port:{portId}: a website registration arrived.
func RegistrationNew(portID string, p RegistrationNewPayload) Event[RegistrationNewPayload] {
	return newEvent("registration:new", p, PortRoom(portID))
}

// File events.

// FileUploadedPayload is the payload of file:uploaded.
type FileUploadedPayload struct {
	FileID   string `json:"fileId"`
	Filename string `json:"filename"`
	ClientID string `json:"clientId"`
	Category string `json:"category"`
}

// FileUploaded builds file:uploaded for client:{clientId} and port:{portId}.
func FileUploaded(portID string, p FileUploadedPayload) Event[FileUploadedPayload] {
	return newEvent("file:uploaded", p, ClientRoom(p.ClientID), PortRoom(portID))
}

// FileDeletedPayload is the payload of file:deleted.
type FileDeletedPayload struct {
	FileID   string `json:"fileId"`
	Filename string `json:"filename"`
}

// FileDeleted builds file:deleted for client:{clientId}.
func FileDeleted(clientID string, p FileDeletedPayload) Event[FileDeletedPayload] {
	return newEvent("file:deleted", p, ClientRoom(clientID))
}
