package bullmq

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseNodeJobOpts(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		in   string
		want JobOpts
	}{
		{name: "Empty", in: "", want: JobOpts{}},
		{name: "Whitespace", in: " \n", want: JobOpts{}},
		{name: "EmptyObject", in: "{}", want: JobOpts{}},
		{
			name: "Scalars",
			in: `{"jobId":"invoice-7","delay":1500,"priority":3,"lifo":true,"attempts":5,
				"timestamp":1767225600000,"keepLogs":20,"stackTraceLimit":4}`,
			want: JobOpts{
				JobID: "invoice-7", Delay: 1500 * time.Millisecond, Priority: 3, LIFO: true,
				Attempts: 5, Timestamp: time.UnixMilli(1767225600000), KeepLogs: 20,
				StackTraceLimit: 4,
			},
		},
		{
			name: "WholeNumberInExponentForm",
			in:   `{"delay":1e3}`,
			want: JobOpts{Delay: time.Second},
		},
		{
			name: "BackoffNumber",
			in:   `{"backoff":2000}`,
			want: JobOpts{Backoff: &Backoff{Type: BackoffFixed, Delay: 2 * time.Second}},
		},
		{
			name: "BackoffObject",
			in:   `{"backoff":{"type":"exponential","delay":1000,"jitter":0.5}}`,
			want: JobOpts{Backoff: &Backoff{Type: BackoffExponential, Delay: time.Second,
				Jitter: 0.5}},
		},
		{
			name: "BackoffCustomType",
			in:   `{"backoff":{"type":"crm"}}`,
			want: JobOpts{Backoff: &Backoff{Type: "crm"}},
		},
		{
			name: "RetentionTrueAndFalse",
			in:   `{"removeOnComplete":true,"removeOnFail":false}`,
			want: JobOpts{RemoveOnComplete: RemoveJob(), RemoveOnFail: KeepJobs()},
		},
		{
			name: "RetentionCount",
			in:   `{"removeOnComplete":100}`,
			want: JobOpts{RemoveOnComplete: KeepLast(100)},
		},
		{
			name: "RetentionObject",
			in:   `{"removeOnFail":{"age":86400,"count":50,"limit":10}}`,
			want: JobOpts{RemoveOnFail: KeepFor(24*time.Hour, 50, 10)},
		},
		{
			name: "RetentionAgeOnly",
			in:   `{"removeOnFail":{"age":3600}}`,
			want: JobOpts{RemoveOnFail: KeepFor(time.Hour, 0, 0)},
		},
		{
			name: "Deduplication",
			in: `{"deduplication":{"id":"digest:u-1","ttl":60000,"extend":true,
				"replace":true,"keepLastIfActive":true}}`,
			want: JobOpts{Deduplication: &Deduplication{ID: "digest:u-1", TTL: time.Minute,
				Extend: true, Replace: true, KeepLastIfActive: true}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, err := ParseNodeJobOpts([]byte(tt.in))
			if err != nil {
				t.Fatalf("ParseNodeJobOpts(%s) error = %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseNodeJobOpts(%s)\n got %+v\nwant %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseNodeJobOpts_Errors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		in      string
		wantErr string
	}{
		{"NotJSON", `{"delay":`, "invalid job options"},
		{"Array", `[1,2]`, "must be a JSON object"},
		{"String", `"x"`, "must be a JSON object"},
		{"UnknownOption", `{"repeat":{"every":1000}}`, `unknown job option "repeat"`},
		{"MisspelledOption", `{"jobID":"x"}`, "supported options are attempts, backoff"},
		{"StoredShortName", `{"kl":5}`, `unknown job option "kl"`},
		{"JobIDNumber", `{"jobId":7}`, "invalid job option jobId: must be a string, got a number"},
		{"DelayString", `{"delay":"5s"}`, "invalid job option delay: must be a number, got a string"},
		{"DelayNegative", `{"delay":-1}`, "invalid job option delay: must be at least 0, got -1"},
		{"AttemptsFraction", `{"attempts":2.5}`, "must be a whole number, got 2.5"},
		{"PriorityNull", `{"priority":null}`, "must be a number, got null"},
		{"LIFOString", `{"lifo":"yes"}`, "invalid job option lifo: must be true or false"},
		{"TimestampBool", `{"timestamp":true}`, "must be a number, got a boolean"},
		{"BackoffString", `{"backoff":"exponential"}`, "must be a number of milliseconds or"},
		{"BackoffNoType", `{"backoff":{"delay":100}}`, "type is missing"},
		{"BackoffUnknownField", `{"backoff":{"type":"fixed","every":1}}`,
			"backoff: every: unknown field"},
		{"BackoffDelayString", `{"backoff":{"type":"fixed","delay":"1s"}}`,
			"backoff: delay: must be a number"},
		{"RetentionString", `{"removeOnComplete":"all"}`, "must be true, false, a job count"},
		{"RetentionNegative", `{"removeOnFail":-5}`, "must be at least 0"},
		{"RetentionUnknownField", `{"removeOnFail":{"days":3}}`,
			"removeOnFail: days: unknown field"},
		{"DedupNoID", `{"deduplication":{"ttl":10}}`, "deduplication: id is missing"},
		{"DedupNotObject", `{"deduplication":"x"}`, "must be {id, ttl, extend"},
		{"DedupExtendNumber", `{"deduplication":{"id":"a","extend":1}}`,
			"deduplication: extend: must be true or false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			_, err := ParseNodeJobOpts([]byte(tt.in))
			if err == nil {
				t.Fatalf("ParseNodeJobOpts(%s) = nil error, want %q", tt.in, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseNodeJobOpts(%s) error = %q, want it to contain %q", tt.in, err,
					tt.wantErr)
			}
		})
	}
}

func TestParseNodeJobOpts_StoredFormRoundTrip(t *testing.T) {
	t.Parallel()

	opts, err := ParseNodeJobOpts([]byte(`{"attempts":3,"keepLogs":5,
		"backoff":{"type":"exponential","delay":1000},"removeOnComplete":{"age":60}}`))
	if err != nil {
		t.Fatalf("ParseNodeJobOpts error = %v", err)
	}

	stored, err := opts.storedOpts()
	if err != nil {
		t.Fatalf("storedOpts error = %v", err)
	}
	want := `{"attempts":3,"backoff":{"type":"exponential","delay":1000},` +
		`"removeOnComplete":{"age":60},"kl":5}`
	if string(stored) != want {
		t.Errorf("stored opts = %s, want %s", stored, want)
	}
}
