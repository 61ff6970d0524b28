package realtime

import "encoding/json"

// Berth events.

// BerthStatusChangedPayload is the payload of berth:statusChanged.
type BerthStatusChangedPayload struct {
	BerthID   string `json:"berthId"`
	OldStatus string `json:"oldStatus"`
	NewStatus string `json:"newStatus"`
	// TriggeredBy is the user id, or a job or rule name for automatic changes.
	TriggeredBy string `json:"triggeredBy"`
}

// BerthStatusChanged builds berth:statusChanged for port:{portId}: a berth's status was
// updated by a user or automatically.
func BerthStatusChanged(portID string, p BerthStatusChangedPayload,
) Event[BerthStatusChangedPayload] {
	return newEvent("berth:statusChanged", p, PortRoom(portID))
}

// BerthUpdatedPayload is the payload of berth:updated.
type BerthUpdatedPayload struct {
	BerthID       string   `json:"berthId"`
	ChangedFields []string `json:"changedFields"`
}

// BerthUpdated builds berth:updated for port:{portId} and berth:{berthId}.
func BerthUpdated(portID string, p BerthUpdatedPayload) Event[BerthUpdatedPayload] {
	return newEvent("berth:updated", p, PortRoom(portID), BerthRoom(p.BerthID))
}

// BerthWaitingListChangedPayload is the payload of berth:waitingListChanged.
type BerthWaitingListChangedPayload struct {
	BerthID string `json:"berthId"`
	// Action is added, removed or reordered.
	Action string `json:"action"`
	// Entry is the waiting-list entry as the CRM serializes it.
	Entry json.RawMessage `json:"entry"`
}

// BerthWaitingListChanged builds berth:waitingListChanged for berth:{berthId}.
func BerthWaitingListChanged(p BerthWaitingListChangedPayload,
) Event[BerthWaitingListChangedPayload] {
	return newEvent("berth:waitingListChanged", p, BerthRoom(p.BerthID))
}

// BerthMaintenanceAddedPayload is the payload of berth:maintenanceAdded.
type BerthMaintenanceAddedPayload struct {
	BerthID string `json:"berthId"`
	// LogEntry is the maintenance log entry as the CRM serializes it.
	LogEntry json.RawMessage `json:"logEntry"`
}

// BerthMaintenanceAdded builds berth:maintenanceAdded for berth:{berthId}.
func BerthMaintenanceAdded(p BerthMaintenanceAddedPayload) Event[BerthMaintenanceAddedPayload] {
	return newEvent("berth:maintenanceAdded", p, BerthRoom(p.BerthID))
}

// Client events.

// ClientCreatedPayload is the payload of client:created.
type ClientCreatedPayload struct {
	ClientID   string `json:"clientId"`
	ClientName string `json:"clientName"`
	Source     string `json:"source"`
}

// ClientCreated builds client:created for port:{portId}.
func ClientCreated(portID string, p ClientCreatedPayload) Event[ClientCreatedPayload] {
	return newEvent("client:created", p, PortRoom(portID))
}

// ClientUpdatedPayload is the payload of client:updated.
type ClientUpdatedPayload struct {
	ClientID      string   `json:"clientId"`
	ChangedFields []string `json:"changedFields"`
}

// ClientUpdated builds client:updated for port:{portId} and client:{clientId}.
func ClientUpdated(portID string, p ClientUpdatedPayload) Event[ClientUpdatedPayload] {
	return newEvent("client:updated", p, PortRoom(portID), ClientRoom(p.ClientID))
}

// ClientRefPayload is the payload of client:archived and client:restored.
type ClientRefPayload struct {
	ClientID string `json:"clientId"`
}

// ClientArchived builds client:archived for port:{portId}.
func ClientArchived(portID string, p ClientRefPayload) Event[ClientRefPayload] {
	return newEvent("client:archived", p, PortRoom(portID))
}

// ClientRestored builds client:restored for port:{portId}.
func ClientRestored(portID string, p ClientRefPayload) Event[ClientRefPayload] {
	return newEvent("client:restored", p, PortRoom(portID))
}

// ClientMergedPayload is the payload of client:merged.
type ClientMergedPayload struct {
	SurvivingID string `json:"survivingId"`
	MergedID    string `json:"mergedId"`
}

// ClientMerged builds client:merged for port:{portId}.
func ClientMerged(portID string, p ClientMergedPayload) Event[ClientMergedPayload] {
	return newEvent("client:merged", p, PortRoom(portID))
}

// ClientNoteAddedPayload is the payload of client:noteAdded.
type ClientNoteAddedPayload struct {
	ClientID   string `json:"clientId"`
	NoteID     string `json:"noteId"`
	AuthorName string `json:"authorName"`
	Preview    string `json:"preview"`
}

// ClientNoteAdded builds client:noteAdded for client:{clientId}.
func ClientNoteAdded(p ClientNoteAddedPayload) Event[ClientNoteAddedPayload] {
	return newEvent("client:noteAdded", p, ClientRoom(p.ClientID))
}

// ClientDuplicateDetectedPayload is the payload of client:duplicateDetected.
type ClientDuplicateDetectedPayload struct {
	ClientAID string  `json:"clientAId"`
	ClientBID string  `json:"clientBId"`
	Score     float64 `json:"score"`
	Reason    string  `json:"reason"`
}

// ClientDuplicateDetected builds client:duplicateDetected for port:{portId}.
func ClientDuplicateDetected(portID string, p ClientDuplicateDetectedPayload,
) Event[ClientDuplicateDetectedPayload] {
	return newEvent("client:duplicateDetected", p, PortRoom(portID))
}

// Interest events.

// InterestCreatedPayload is the payload of interest:created.
type InterestCreatedPayload struct {
	InterestID string `json:"interestId"`
	ClientID   string `json:"clientId"`
	// BerthID is null when no berth is linked yet.
	BerthID *string `json:"berthId"`
	Source  string  `json:"source"`
}

// InterestCreated builds interest:created for port:{portId}.
func InterestCreated(portID string, p InterestCreatedPayload) Event[InterestCreatedPayload] {
	return newEvent("interest:created", p, PortRoom(portID))
}

// InterestUpdatedPayload is the payload of interest:updated.
type InterestUpdatedPayload struct {
	InterestID    string   `json:"interestId"`
	ChangedFields []string `json:"changedFields"`
}

// InterestUpdated builds interest:updated for port:{portId} and interest:{interestId}.
func InterestUpdated(portID string, p InterestUpdatedPayload) Event[InterestUpdatedPayload] {
	return newEvent("interest:updated", p, PortRoom(portID), InterestRoom(p.InterestID))
}

// InterestStageChangedPayload is the payload of interest:stageChanged.
type InterestStageChangedPayload struct {
	InterestID string `json:"interestId"`
	OldStage   string `json:"oldStage"`
	NewStage   string `json:"newStage"`
	ClientName string `json:"clientName"`
	// BerthNumber is null when no berth is linked.
	BerthNumber *string `json:"berthNumber"`
}

// InterestStageChanged builds interest:stageChanged for port:{portId}.
func InterestStageChanged(portID string, p InterestStageChangedPayload,
) Event[InterestStageChangedPayload] {
	return newEvent("interest:stageChanged", p, PortRoom(portID))
}

// InterestBerthPayload is the payload of interest:berthLinked and interest:berthUnlinked.
type InterestBerthPayload struct {
	InterestID string `json:"interestId"`
	BerthID    string `json:"berthId"`
}

// InterestBerthLinked builds interest:berthLinked for port:{portId}.
func InterestBerthLinked(portID string, p InterestBerthPayload) Event[InterestBerthPayload] {
	return newEvent("interest:berthLinked", p, PortRoom(portID))
}

// InterestBerthUnlinked builds interest:berthUnlinked for port:{portId}.
func InterestBerthUnlinked(portID string, p InterestBerthPayload) Event[InterestBerthPayload] {
	return newEvent("interest:berthUnlinked", p, PortRoom(portID))
}

// InterestArchivedPayload is the payload of interest:archived.
type InterestArchivedPayload struct {
	InterestID string `json:"interestId"`
}

// InterestArchived builds interest:archived for port:{portId}.
func InterestArchived(portID string, p InterestArchivedPayload) Event[InterestArchivedPayload] {
	return newEvent("interest:archived", p, PortRoom(portID))
}

// InterestNoteAddedPayload is the payload of interest:noteAdded.
type InterestNoteAddedPayload struct {
	InterestID string `json:"interestId"`
	NoteID     string `json:"noteId"`
	AuthorName string `json:"authorName"`
	Preview    string `json:"preview"`
}

// InterestNoteAdded builds interest:noteAdded for interest:{interestId}.
func InterestNoteAdded(p InterestNoteAddedPayload) Event[InterestNoteAddedPayload] {
	return newEvent("interest:noteAdded", p, InterestRoom(p.InterestID))
}

// InterestRecommendationsGeneratedPayload is the payload of
// interest:recommendationsGenerated.
type InterestRecommendationsGeneratedPayload struct {
	InterestID string `json:"interestId"`
	Count      int    `json:"count"`
	// TopBerthID is null when no berth was recommended.
	TopBerthID *string `json:"topBerthId"`
}

// InterestRecommendationsGenerated builds interest:recommendationsGenerated for
// interest:{interestId} and port:{portId}: AI berth recommendations were generated.
func InterestRecommendationsGenerated(portID string, p InterestRecommendationsGeneratedPayload,
) Event[InterestRecommendationsGeneratedPayload] {
	return newEvent("interest:recommendationsGenerated", p, InterestRoom(p.InterestID),
		PortRoom(portID))
}

// InterestRecommendationAddedPayload is the payload of interest:recommendationAdded.
type InterestRecommendationAddedPayload struct {
	InterestID string  `json:"interestId"`
	BerthID    string  `json:"berthId"`
	Source     string  `json:"source"`
	MatchScore float64 `json:"matchScore"`
}

// InterestRecommendationAdded builds interest:recommendationAdded for interest:{interestId}.
func InterestRecommendationAdded(p InterestRecommendationAddedPayload,
) Event[InterestRecommendationAddedPayload] {
	return newEvent("interest:recommendationAdded", p, InterestRoom(p.InterestID))
}

// InterestLeadCategoryChangedPayload is the payload of interest:leadCategoryChanged.
type InterestLeadCategoryChangedPayload struct {
	InterestID  string `json:"interestId"`
	OldCategory string `json:"oldCategory"`
	NewCategory string `json:"newCategory"`
	// Auto is true when a rule promoted the lead, not a user.
	Auto bool `json:"auto"`
}

// InterestLeadCategoryChanged builds interest:leadCategoryChanged for port:{portId} and
// interest:{interestId}.
func InterestLeadCategoryChanged(portID string, p InterestLeadCategoryChangedPayload,
) Event[InterestLeadCategoryChangedPayload] {
	return newEvent("interest:leadCategoryChanged", p, PortRoom(portID),
		InterestRoom(p.InterestID))
}
