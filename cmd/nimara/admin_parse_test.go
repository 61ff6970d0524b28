package main

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// parseCase runs one command built with a capturing runF and checks the outcome: either
// the options through check, or a usage error containing wantErr.
type parseCase struct {
	name    string
	args    []string
	wantErr string
	check   func(t *testing.T)
}

// runParseCases runs each case on a fresh command from build, which also resets the
// captured options. The cases run one after another because they share those options.
func runParseCases(t *testing.T, cases []parseCase, build func() (*cobra.Command, *bool)) {
	t.Helper()

	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			cmd, called := build()
			if tt.wantErr != "" {
				checkUsageError(t, cmd, tt.args, tt.wantErr)
				if *called {
					t.Errorf("runF called for invalid arguments %v", tt.args)
				}
				return
			}

			err := executeQuiet(cmd, tt.args)
			if err != nil {
				t.Fatalf("Execute(%v) error = %v", tt.args, err)
			}
			if !*called {
				t.Fatalf("runF not called for %v", tt.args)
			}
			tt.check(t)
		})
	}
}

func TestNewCmdQueues_ParsesFlags(t *testing.T) {
	t.Parallel()

	f, _, _ := testFactory(nil)

	var ls *QueuesLsOptions
	runParseCases(t, []parseCase{
		{name: "LsJSON", args: []string{"--json"}, check: func(t *testing.T) {
			if !ls.JSON {
				t.Error("JSON = false, want true")
			}
		}},
		{name: "LsArgument", args: []string{"email"}, wantErr: `unexpected argument "email"`},
	}, func() (*cobra.Command, *bool) {
		called := false
		return newCmdQueuesLs(f, func(_ context.Context, o *QueuesLsOptions) error {
			ls, called = o, true
			return nil
		}), &called
	})

	var pause *QueuesPauseOptions
	for _, verb := range []string{"pause", "resume"} {
		runParseCases(t, []parseCase{
			{name: verb + "Named", args: []string{"email", "dead-letter"},
				check: func(t *testing.T) {
					if !slices.Equal(pause.Queues, []string{"email", "dead-letter"}) {
						t.Errorf("Queues = %v", pause.Queues)
					}
					if pause.Resume != (verb == "resume") {
						t.Errorf("Resume = %v for %s", pause.Resume, verb)
					}
				}},
			{name: verb + "All", args: []string{"--all"}, check: func(t *testing.T) {
				if len(pause.Queues) != 10 {
					t.Errorf("Queues = %v, want the ten catalog queues", pause.Queues)
				}
			}},
			{name: verb + "Nothing", args: nil, wantErr: "name one or more queues"},
			{name: verb + "Both", args: []string{"email", "--all"},
				wantErr: "name one or more queues"},
			{name: verb + "Unknown", args: []string{"mail"}, wantErr: `unknown queue "mail"`},
		}, func() (*cobra.Command, *bool) {
			called := false
			return newCmdQueuesPause(f, verb, func(_ context.Context,
				o *QueuesPauseOptions) error {
				pause, called = o, true
				return nil
			}), &called
		})
	}

	var drain *QueuesDrainOptions
	runParseCases(t, []parseCase{
		{name: "DrainFlags", args: []string{"export", "--delayed", "-y"},
			check: func(t *testing.T) {
				if drain.Queue != "export" || !drain.Delayed || !drain.Yes {
					t.Errorf("options = %+v, want export, delayed and yes", drain)
				}
				if drain.JSON {
					t.Error("JSON = true without --json")
				}
			}},
		{name: "DrainJSON", args: []string{"export", "--json"}, check: func(t *testing.T) {
			if !drain.JSON {
				t.Error("JSON = false, want true")
			}
		}},
		{name: "DrainNoQueue", args: nil, wantErr: "expected 1 arguments (queue)"},
	}, func() (*cobra.Command, *bool) {
		called := false
		return newCmdQueuesDrain(f, func(_ context.Context, o *QueuesDrainOptions) error {
			drain, called = o, true
			return nil
		}), &called
	})

	var clean *QueuesCleanOptions
	runParseCases(t, []parseCase{
		{name: "CleanDefaults", args: []string{"email"}, check: func(t *testing.T) {
			if clean.State != "completed" || clean.Grace != 24*time.Hour || clean.Limit != 0 {
				t.Errorf("options = %+v, want completed, 24h, no limit", clean)
			}
		}},
		{name: "CleanFlags", args: []string{"email", "--state", "failed", "--grace", "1h",
			"--limit", "5", "--yes", "--json"}, check: func(t *testing.T) {
			if clean.State != "failed" || clean.Grace != time.Hour || clean.Limit != 5 ||
				!clean.Yes || !clean.JSON {
				t.Errorf("options = %+v", clean)
			}
		}},
		{name: "CleanBadState", args: []string{"email", "--state", "done"},
			wantErr: `invalid --state "done"`},
		{name: "CleanNegativeLimit", args: []string{"email", "--limit", "-1"},
			wantErr: "must not be negative"},
	}, func() (*cobra.Command, *bool) {
		called := false
		return newCmdQueuesClean(f, func(_ context.Context, o *QueuesCleanOptions) error {
			clean, called = o, true
			return nil
		}), &called
	})
}

func TestNewCmdJobsAdmin_ParsesFlags(t *testing.T) {
	t.Parallel()

	f, _, _ := testFactory(nil)

	var ls *JobsLsOptions
	runParseCases(t, []parseCase{
		{name: "LsDefaults", args: []string{"email"}, check: func(t *testing.T) {
			if ls.Queue != "email" || ls.Limit != 20 || len(ls.States) != 5 {
				t.Errorf("options = %+v, want email, limit 20, five states", ls)
			}
		}},
		{name: "LsFlags", args: []string{"email", "--state", "failed,completed", "-L", "3",
			"--json"}, check: func(t *testing.T) {
			if !slices.Equal(ls.States, []string{"failed", "completed"}) || ls.Limit != 3 ||
				!ls.JSON {
				t.Errorf("options = %+v", ls)
			}
		}},
		{name: "LsBadState", args: []string{"email", "--state", "gone"},
			wantErr: `invalid --state "gone"`},
		{name: "LsZeroLimit", args: []string{"email", "--limit", "0"},
			wantErr: "invalid --limit 0"},
	}, func() (*cobra.Command, *bool) {
		called := false
		return newCmdJobsLs(f, func(_ context.Context, o *JobsLsOptions) error {
			ls, called = o, true
			return nil
		}), &called
	})

	var get *JobsGetOptions
	runParseCases(t, []parseCase{
		{name: "Get", args: []string{"notifications", "42", "--json"},
			check: func(t *testing.T) {
				if get.Queue != "notifications" || get.ID != "42" || !get.JSON {
					t.Errorf("options = %+v", get)
				}
			}},
		{name: "GetOneArgument", args: []string{"notifications"},
			wantErr: "expected 2 arguments"},
	}, func() (*cobra.Command, *bool) {
		called := false
		return newCmdJobsGet(f, func(_ context.Context, o *JobsGetOptions) error {
			get, called = o, true
			return nil
		}), &called
	})

	var retry *JobsRetryOptions
	runParseCases(t, []parseCase{
		{name: "RetryIDs", args: []string{"email", "1", "2"}, check: func(t *testing.T) {
			if retry.Queue != "email" || !slices.Equal(retry.IDs, []string{"1", "2"}) {
				t.Errorf("options = %+v", retry)
			}
		}},
		{name: "RetryAll", args: []string{"email", "--all"}, check: func(t *testing.T) {
			if !retry.All || len(retry.IDs) != 0 {
				t.Errorf("options = %+v", retry)
			}
		}},
		{name: "RetryNothing", args: []string{"email"}, wantErr: "name one or more job ids"},
		{name: "RetryNoQueue", args: nil, wantErr: "expected at least 1 arguments"},
		{name: "RetryDeadLetter", args: []string{"dead-letter", "1"},
			wantErr: `unknown queue "dead-letter"`},
	}, func() (*cobra.Command, *bool) {
		called := false
		return newCmdJobsRetry(f, func(_ context.Context, o *JobsRetryOptions) error {
			retry, called = o, true
			return nil
		}), &called
	})

	var promote *JobsPromoteOptions
	runParseCases(t, []parseCase{
		{name: "Promote", args: []string{"notifications", "9"}, check: func(t *testing.T) {
			if !slices.Equal(promote.IDs, []string{"9"}) {
				t.Errorf("options = %+v", promote)
			}
		}},
		{name: "PromoteBoth", args: []string{"notifications", "9", "--all"},
			wantErr: "name one or more job ids"},
	}, func() (*cobra.Command, *bool) {
		called := false
		return newCmdJobsPromote(f, func(_ context.Context, o *JobsPromoteOptions) error {
			promote, called = o, true
			return nil
		}), &called
	})

	var rm *JobsRmOptions
	runParseCases(t, []parseCase{
		{name: "Rm", args: []string{"export", "5", "6", "-y"}, check: func(t *testing.T) {
			if !slices.Equal(rm.IDs, []string{"5", "6"}) || !rm.Yes {
				t.Errorf("options = %+v", rm)
			}
		}},
		{name: "RmNoID", args: []string{"export"}, wantErr: "expected at least 2 arguments"},
	}, func() (*cobra.Command, *bool) {
		called := false
		return newCmdJobsRm(f, func(_ context.Context, o *JobsRmOptions) error {
			rm, called = o, true
			return nil
		}), &called
	})
}

func TestNewCmdDLQ_ParsesFlags(t *testing.T) {
	t.Parallel()

	f, _, _ := testFactory(nil)

	var ls *DLQLsOptions
	runParseCases(t, []parseCase{
		{name: "LsDefaults", args: nil, check: func(t *testing.T) {
			if ls.Queue != "" || ls.Limit != 50 || ls.JSON {
				t.Errorf("options = %+v", ls)
			}
		}},
		{name: "LsFlags", args: []string{"-q", "email", "-L", "0", "--json"},
			check: func(t *testing.T) {
				if ls.Queue != "email" || ls.Limit != 0 || !ls.JSON {
					t.Errorf("options = %+v", ls)
				}
			}},
		{name: "LsUnknownQueue", args: []string{"--queue", "mail"},
			wantErr: `unknown queue "mail"`},
	}, func() (*cobra.Command, *bool) {
		called := false
		return newCmdDLQLs(f, func(_ context.Context, o *DLQLsOptions) error {
			ls, called = o, true
			return nil
		}), &called
	})

	var show *DLQShowOptions
	runParseCases(t, []parseCase{
		{name: "Show", args: []string{"email-1-2"}, check: func(t *testing.T) {
			if show.ID != "email-1-2" {
				t.Errorf("ID = %q", show.ID)
			}
		}},
		{name: "ShowNoID", args: nil, wantErr: "expected 1 arguments (entry id)"},
	}, func() (*cobra.Command, *bool) {
		called := false
		return newCmdDLQShow(f, func(_ context.Context, o *DLQShowOptions) error {
			show, called = o, true
			return nil
		}), &called
	})

	var retry *DLQRetryOptions
	runParseCases(t, []parseCase{
		{name: "RetryIDs", args: []string{"a-1-1", "b-2-2"}, check: func(t *testing.T) {
			if !slices.Equal(retry.IDs, []string{"a-1-1", "b-2-2"}) {
				t.Errorf("IDs = %v", retry.IDs)
			}
		}},
		{name: "RetryQueue", args: []string{"--queue", "webhooks", "--yes", "--json"},
			check: func(t *testing.T) {
				if retry.Queue != "webhooks" || !retry.Yes || !retry.JSON {
					t.Errorf("options = %+v", retry)
				}
			}},
		{name: "RetryAll", args: []string{"--all"}, check: func(t *testing.T) {
			if !retry.All {
				t.Error("All = false")
			}
		}},
		{name: "RetryNothing", args: nil, wantErr: "name entry ids, or pass --queue or --all"},
		{name: "RetryTwoScopes", args: []string{"--all", "--queue", "ai"},
			wantErr: "name entry ids, or pass --queue or --all"},
	}, func() (*cobra.Command, *bool) {
		called := false
		return newCmdDLQRetry(f, func(_ context.Context, o *DLQRetryOptions) error {
			retry, called = o, true
			return nil
		}), &called
	})

	var purge *DLQPurgeOptions
	runParseCases(t, []parseCase{
		{name: "PurgeOlderThan", args: []string{"--older-than", "720h", "-y"},
			check: func(t *testing.T) {
				if purge.OlderThan != 720*time.Hour || !purge.Yes {
					t.Errorf("options = %+v", purge)
				}
			}},
		{name: "PurgeNegative", args: []string{"--older-than", "-1h"},
			wantErr: "invalid --older-than -1h0m0s"},
		{name: "PurgeArgument", args: []string{"all"}, wantErr: `unexpected argument "all"`},
	}, func() (*cobra.Command, *bool) {
		called := false
		return newCmdDLQPurge(f, func(_ context.Context, o *DLQPurgeOptions) error {
			purge, called = o, true
			return nil
		}), &called
	})
}

func TestNewCmdContracts_ParsesFlags(t *testing.T) {
	t.Parallel()

	f, _, _ := testFactory(nil)

	var got *ContractsOptions
	runParseCases(t, []parseCase{
		{name: "Format", args: []string{"--format", "json-schema"}, check: func(t *testing.T) {
			if got.Format != "json-schema" || got.Out != "" {
				t.Errorf("options = %+v", got)
			}
		}},
		{name: "Out", args: []string{"--out", "/tmp/x"}, check: func(t *testing.T) {
			if got.Out != "/tmp/x" {
				t.Errorf("options = %+v", got)
			}
		}},
		{name: "Neither", args: nil, wantErr: "pass either --format or --out"},
		{name: "Both", args: []string{"--format", "ts", "--out", "x"},
			wantErr: "pass either --format or --out"},
		{name: "BadFormat", args: []string{"--format", "yaml"}, wantErr: `invalid --format "yaml"`},
	}, func() (*cobra.Command, *bool) {
		called := false
		return newCmdContracts(f, func(_ context.Context, o *ContractsOptions) error {
			got, called = o, true
			return nil
		}), &called
	})
}

func TestNewCmdWorker_OpsFlags(t *testing.T) {
	t.Parallel()

	f, _, _ := testFactory(map[string]string{envMetricsAddr: "127.0.0.1:9999"})
	var got *WorkerOptions
	var called bool
	build := func() (*cobra.Command, *bool) {
		called = false
		return newCmdWorker(f, func(_ context.Context, o *WorkerOptions) error {
			got, called = o, true
			return nil
		}), &called
	}
	runParseCases(t, []parseCase{
		{name: "Defaults", args: nil, check: func(t *testing.T) {
			if got.MetricsAddr != "127.0.0.1:9999" || got.SweepInterval != time.Second ||
				got.SampleInterval != 15*time.Second {
				t.Errorf("options = %+v, want the env address and default intervals", got)
			}
		}},
		{name: "Flags", args: []string{"--metrics-addr", ":1", "--dlq-sweep-interval", "2s",
			"--depth-sample-interval", "1m"}, check: func(t *testing.T) {
			if got.MetricsAddr != ":1" || got.SweepInterval != 2*time.Second ||
				got.SampleInterval != time.Minute {
				t.Errorf("options = %+v", got)
			}
		}},
		{name: "ZeroSweep", args: []string{"--dlq-sweep-interval", "0s"},
			wantErr: "invalid --dlq-sweep-interval 0s: must be positive"},
	}, build)

	f2, _, _ := testFactory(nil)
	if addr := defaultMetricsAddr(f2); addr != ":9464" {
		t.Errorf("default --metrics-addr = %q, want :9464", addr)
	}
}
