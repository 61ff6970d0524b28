package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/portnimara/nimara/queues"
)

// Contract file names that contracts --out writes.
const (
	contractTSFile     = "nimara-jobs.ts"
	contractSchemaFile = "nimara-jobs.schema.json"
)

// ContractsOptions are the settings of nimara contracts.
type ContractsOptions struct {
	Factory *Factory
	// Format prints one contract to stdout: "ts" or "json-schema".
	Format string
	// Out is a directory to write both contracts into.
	Out string
}

func newCmdContracts(f *Factory, runF func(context.Context, *ContractsOptions) error,
) *cobra.Command {
	opts := &ContractsOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "contracts {--format <format> | --out <dir>}",
		Short: "Export the job catalog for the Node app",
		Long: `Export the queue catalog for the Next.js app, so it enqueues exactly what the
fleet accepts: queue names, job names, payload types and default job options.

--format ts prints a TypeScript module and --format json-schema a JSON Schema
(draft 2020-12) of {queue, name, data, opts}. --out writes both to a directory, as
` + contractTSFile + ` and ` + contractSchemaFile + `. The output depends only on
the build, not on Redis or PostgreSQL.`,
		Example: `  # Write both contracts into the app's source tree
  $ nimara contracts --out ../crm/src/jobs/generated

  # Print the JSON Schema
  $ nimara contracts --format json-schema`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (opts.Format == "") == (opts.Out == "") {
				return usageErrorf("pass either --format or --out")
			}
			if opts.Format != "" && opts.Format != "ts" && opts.Format != "json-schema" {
				return usageErrorf("invalid --format %q: use ts or json-schema", opts.Format)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runContracts(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Format, "format", "",
		"print one contract: ts or json-schema")
	cmd.Flags().StringVar(&opts.Out, "out", "", "directory to write both contracts into")
	return cmd
}

func runContracts(opts *ContractsOptions) error {
	schema, err := queues.JSONSchemaContract()
	if err != nil {
		return err
	}
	ts := []byte(queues.TypeScriptContract())

	switch opts.Format {
	case "ts":
		_, err := opts.Factory.Out.Write(ts)
		return err
	case "json-schema":
		_, err := opts.Factory.Out.Write(schema)
		return err
	}

	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return fmt.Errorf("create --out directory: %w", err)
	}
	for name, content := range map[string][]byte{contractTSFile: ts,
		contractSchemaFile: schema} {
		path := filepath.Join(opts.Out, name)
		if err := os.WriteFile(path, content, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		if opts.Factory.OutTTY {
			fmt.Fprintf(opts.Factory.Out, "Wrote %s\n", path)
		}
	}
	return nil
}
