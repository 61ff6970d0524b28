package notifications

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// CreateData is the data of a create job, as the Node app enqueues it:
// {portId, userId, type, title, description, link}.
type CreateData struct {
	// PortID is the port the notification belongs to, nil for cross-port notifications.
	PortID *string
	// UserID is the Better Auth id of the recipient.
	UserID string
	// Type names the kind of notification, such as "reminder.overdue".
	Type  string
	Title string
	// Description is stored as the notification's body. Nil means no body.
	Description *string
	// Link is the app path the notification opens. Nil means none.
	Link *string
}

// ParseCreateData decodes and validates the data of a create job. Errors start with
// "invalid job data:" and name the field and the problem. Unknown fields are ignored, so
// the Node app can add fields before the workers use them.
func ParseCreateData(raw []byte) (CreateData, error) {
	var data CreateData
	fields, err := decodeFields(raw)
	if err != nil {
		return data, err
	}

	if data.UserID, err = requiredString(fields, "userId"); err != nil {
		return data, err
	}
	if data.Type, err = requiredString(fields, "type"); err != nil {
		return data, err
	}
	if data.Title, err = requiredString(fields, "title"); err != nil {
		return data, err
	}
	if data.PortID, err = optionalString(fields, "portId"); err != nil {
		return data, err
	}
	if data.PortID != nil {
		if _, perr := uuid.Parse(*data.PortID); perr != nil {
			return data, fmt.Errorf("invalid job data: portId must be a uuid, got %q",
				*data.PortID)
		}
	}
	if data.Description, err = optionalString(fields, "description"); err != nil {
		return data, err
	}
	if data.Link, err = optionalString(fields, "link"); err != nil {
		return data, err
	}
	return data, nil
}

// decodeFields decodes job data that must be a JSON object into its raw fields.
func decodeFields(raw []byte) (map[string]json.RawMessage, error) {
	trimmed := bytes.TrimSpace(raw)
	if !json.Valid(trimmed) {
		return nil, errors.New("invalid job data: not valid JSON")
	}
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, fmt.Errorf("invalid job data: must be a JSON object, got %s",
			jsonKind(trimmed))
	}

	var fields map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &fields); err != nil {
		return nil, fmt.Errorf("invalid job data: %w", err)
	}
	return fields, nil
}

func requiredString(fields map[string]json.RawMessage, name string) (string, error) {
	var s string
	v, ok := fields[name]
	if !ok || jsonKind(v) != "a string" || json.Unmarshal(v, &s) != nil || s == "" {
		got := "nothing"
		if ok {
			got = describe(v)
		}
		return "", fmt.Errorf("invalid job data: %s must be a non-empty string, got %s", name,
			got)
	}
	return s, nil
}

// optionalString reads a field that may be absent, null or a string.
func optionalString(fields map[string]json.RawMessage, name string) (*string, error) {
	v, ok := fields[name]
	if !ok || jsonKind(v) == "null" {
		return nil, nil
	}

	var s string
	if jsonKind(v) != "a string" || json.Unmarshal(v, &s) != nil {
		return nil, fmt.Errorf("invalid job data: %s must be a string or null, got %s", name,
			describe(v))
	}
	return &s, nil
}

// describe names a JSON value's type, and shows it whole when it is a short scalar.
func describe(v json.RawMessage) string {
	kind := jsonKind(v)
	if kind == "an object" || kind == "an array" || len(v) > 40 {
		return kind
	}
	return kind + " (" + string(bytes.TrimSpace(v)) + ")"
}

func jsonKind(v []byte) string {
	t := bytes.TrimSpace(v)
	if len(t) == 0 {
		return "nothing"
	}
	switch t[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}
