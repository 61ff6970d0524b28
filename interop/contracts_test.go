package interop

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portnimara/nimara/internal/nodepeer"
	"github.com/portnimara/nimara/queues"
)

// writeContracts runs `nimara contracts --out` into a new directory and returns it.
func writeContracts(t *testing.T) string {
	t.Helper()

	dir := t.TempDir()
	cmd := exec.Command(nimaraBinary(t), "contracts", "--out", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nimara contracts --out: %v\n%s", err, out)
	}
	return dir
}

// tsc type-checks files in dir with the TypeScript compiler pinned in package.json and
// returns its output and whether it succeeded.
func tsc(t *testing.T, dir string, files ...string) (string, bool) {
	t.Helper()

	root, err := nodepeer.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--noEmit", "--strict", "--target", "es2022", "--module",
		"preserve", "--moduleResolution", "bundler"}, files...)
	cmd := exec.Command(filepath.Join(root, "interop", "node_modules", ".bin", "tsc"), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

const contractUsage = `import { crmBackoff, defaultJobOptions, queues, type JobName, type JobPayloads,
  type QueueName } from "./nimara-jobs";

function enqueue<Q extends QueueName, N extends JobName<Q>>(queue: Q, name: N,
    data: JobPayloads[Q][N]) {
  return { queue, name, data, opts: defaultJobOptions(queue, name) };
}

export const jobs = [
  enqueue("notifications", "create", { userId: "u1", type: "t", title: "Hi", link: null }),
  enqueue("notifications", "super-admin-alert", { type: "system.jobFailed", title: "x" }),
  enqueue("email", "password-reset", { to: "ana@test.example" }),
];
export const urgent: number = queues.email.jobs["password-reset"].priority;
export const delays: number[] = [1, 2, 3].map(crmBackoff);
`

func TestContractsTypeScriptCompiles(t *testing.T) {
	t.Parallel()

	dir := writeContracts(t)
	if err := os.WriteFile(filepath.Join(dir, "usage.ts"), []byte(contractUsage), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, ok := tsc(t, dir, "nimara-jobs.ts", "usage.ts"); !ok {
		t.Fatalf("tsc --noEmit of the contract and its use failed:\n%s", out)
	}

	// The types reject what the fleet rejects: a numeric userId, a missing title, a job
	// name the queue does not have.
	bad := map[string]string{
		"number.ts":  `enqueue("notifications", "create", { userId: 7, type: "t", title: "x" });`,
		"missing.ts": `enqueue("notifications", "create", { userId: "u1", type: "t" });`,
		"name.ts":    `enqueue("notifications", "explode", {});`,
	}
	for file, call := range bad {
		src := strings.Replace(contractUsage, "export const jobs = [", call+"\nexport const jobs = [", 1)
		if err := os.WriteFile(filepath.Join(dir, file), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		out, ok := tsc(t, dir, "nimara-jobs.ts", file)
		if ok {
			t.Errorf("tsc accepted %s: %s", file, call)
		} else if !strings.Contains(out, file) {
			t.Errorf("tsc output for %s does not name it:\n%s", file, out)
		}
	}
}

// contractSample is a job payload with the outcome JSON Schema and decoder must agree on.
type contractSample struct {
	Queue string          `json:"queue"`
	Name  string          `json:"name"`
	Data  json.RawMessage `json:"data"`
	Valid bool            `json:"valid"`
}

var contractSamples = []contractSample{
	{"notifications", "create", json.RawMessage(`{"userId":"u1","type":"t","title":"Hi"}`), true},
	{"notifications", "create", json.RawMessage(`{"userId":"u1","type":"t","title":"Hi",
		"portId":"7c0c5b8e-2a5e-4c55-9a55-0d5a3c1e0001","description":null,"link":"/x",
		"extra":1}`), true},
	{"notifications", "create", json.RawMessage(`{"type":"t","title":"Hi"}`), false},
	{"notifications", "create", json.RawMessage(`{"userId":7,"type":"t","title":"Hi"}`), false},
	{"notifications", "create", json.RawMessage(`{"userId":"u1","type":"t","title":""}`), false},
	{"notifications", "create", json.RawMessage(`{"userId":"u1","type":"t","title":"Hi",
		"portId":"port-1"}`), false},
	{"notifications", "create", json.RawMessage(`{"userId":"u1","type":"t","title":"Hi",
		"description":5}`), false},
	{"notifications", "create", json.RawMessage(`["u1"]`), false},
	{"notifications", "super-admin-alert", json.RawMessage(`{"type":"a","title":"b",
		"link":null}`), true},
	{"notifications", "super-admin-alert", json.RawMessage(`{"type":"a"}`), false},
	{"notifications", "super-admin-alert", json.RawMessage(`{"type":"a","title":"b",
		"link":false}`), false},
}

func TestContractsSchemaMatchesDecoders(t *testing.T) {
	t.Parallel()

	dir := writeContracts(t)
	schema, err := os.ReadFile(filepath.Join(dir, "nimara-jobs.schema.json"))
	if err != nil {
		t.Fatal(err)
	}

	peer := nodepeer.Start(t, 6)
	results := nodepeer.MustEvalAs[[]map[string]any](t, peer, `
		const Ajv2020 = require('ajv/dist/2020');
		const ajv = new Ajv2020({ strict: true, allErrors: true });
		ajv.addFormat('uuid',
			/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);
		const validate = ajv.compile(JSON.parse(args.schema));
		const out = args.samples.map((s) => ({
			valid: validate({ queue: s.queue, name: s.name, data: s.data }),
			errors: ajv.errorsText(validate.errors),
		}));
		out.push({ valid: validate({ queue: 'notifications', name: 'explode', data: {} }) });
		out.push({ valid: validate({ queue: 'mail', name: 'send', data: {} }) });
		return out;
	`, map[string]any{"schema": string(schema), "samples": contractSamples})

	if len(results) != len(contractSamples)+2 {
		t.Fatalf("ajv returned %d results, want %d", len(results), len(contractSamples)+2)
	}
	for i, s := range contractSamples {
		q, _ := queues.Lookup(s.Queue)
		job, ok := q.Job(s.Name)
		if !ok || job.Decode == nil {
			t.Fatalf("%s/%s has no decoder", s.Queue, s.Name)
		}
		decodeErr := job.Decode(s.Data)
		schemaValid := results[i]["valid"] == true

		if schemaValid != s.Valid {
			t.Errorf("sample %d %s: JSON Schema valid = %v, want %v (%v)", i, s.Data,
				schemaValid, s.Valid, results[i]["errors"])
		}
		if (decodeErr == nil) != s.Valid {
			t.Errorf("sample %d %s: decoder error = %v, want valid %v", i, s.Data,
				decodeErr, s.Valid)
		}
	}
	if results[len(contractSamples)]["valid"] == true {
		t.Error("JSON Schema accepts job name explode on queue notifications")
	}
	if results[len(contractSamples)+1]["valid"] == true {
		t.Error("JSON Schema accepts queue mail")
	}
}
