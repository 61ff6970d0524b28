package queues

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestTypeScriptContract_ListsEveryJob(t *testing.T) {
	t.Parallel()

	ts := TypeScriptContract()
	for _, want := range []string{
		"export type NotificationsCreatePayload = {\n  /** Better Auth id of the recipient */\n  userId: string;",
		"  portId?: string | null;",
		"export type EmailPasswordResetPayload = Record<string, unknown>;",
		`    "password-reset": EmailPasswordResetPayload;`,
		`      "super-admin-alert": { priority: 1, handled: true },`,
		`export const CRM_BACKOFF_TYPE = "crm";`,
		"return Math.min(1000 * 10 ** Math.max(attemptsMade - 1, 0), 100000);",
	} {
		if !strings.Contains(ts, want) {
			t.Errorf("TypeScript contract lacks %q", want)
		}
	}
	for _, q := range Catalog {
		if !strings.Contains(ts, "  "+tsPropertyName(q.Name)+": {\n    name: ") {
			t.Errorf("TypeScript contract lacks queue %s", q.Name)
		}
	}
}

func TestJSONSchemaContract_BranchPerJob(t *testing.T) {
	t.Parallel()

	raw, err := JSONSchemaContract()
	if err != nil {
		t.Fatalf("JSONSchemaContract() error = %v", err)
	}
	var doc struct {
		OneOf []struct {
			Properties struct {
				Queue struct{ Const string } `json:"queue"`
				Name  struct{ Const string } `json:"name"`
				Opts  struct {
					Properties map[string]struct {
						Default json.RawMessage `json:"default"`
					} `json:"properties"`
				} `json:"opts"`
			} `json:"properties"`
		} `json:"oneOf"`
		Defs map[string]map[string]any `json:"$defs"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("decode the contract: %v", err)
	}

	jobs := 0
	for _, q := range Catalog {
		jobs += len(q.Jobs)
	}
	if len(doc.OneOf) != jobs || len(doc.Defs) != jobs {
		t.Errorf("contract has %d branches and %d defs, want %d each", len(doc.OneOf),
			len(doc.Defs), jobs)
	}
	for _, br := range doc.OneOf {
		p := br.Properties
		if p.Queue.Const == "email" && p.Name.Const == "password-reset" {
			if got := string(p.Opts.Properties["priority"].Default); got != "1" {
				t.Errorf("email/password-reset default priority = %s, want 1", got)
			}
			if got := string(p.Opts.Properties["attempts"].Default); got != "5" {
				t.Errorf("email/password-reset default attempts = %s, want 5", got)
			}
			var backoff bytes.Buffer
			_ = json.Compact(&backoff, p.Opts.Properties["backoff"].Default)
			if got := backoff.String(); got != `{"delay":1000,"type":"crm"}` {
				t.Errorf("email/password-reset default backoff = %s", got)
			}
		}
	}
	create := doc.Defs["notifications.create"]
	if req, _ := json.Marshal(create["required"]); string(req) != `["userId","type","title"]` {
		t.Errorf("notifications.create required = %s", req)
	}
}

func TestPayloadTypeName(t *testing.T) {
	t.Parallel()

	if got := payloadTypeName("notifications", "super-admin-alert"); got != "NotificationsSuperAdminAlertPayload" {
		t.Errorf("payloadTypeName = %q", got)
	}
}
