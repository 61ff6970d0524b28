package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/portnimara/nimara/store"
)

// MigrateOptions are the settings of nimara migrate.
type MigrateOptions struct {
	Factory *Factory

	// Check compares the schema with the workers' needs instead of changing it.
	Check bool
	JSON  bool
}

// missingRow is one table or column in the output of migrate --check --json. Column is
// empty when the whole table is missing.
type missingRow struct {
	Table  string `json:"table"`
	Column string `json:"column"`
}

// migrationRow is one applied migration in the output of migrate --json.
type migrationRow struct {
	Version int    `json:"version"`
	Name    string `json:"name"`
}

func newCmdMigrate(f *Factory, runF func(context.Context, *MigrateOptions) error,
) *cobra.Command {
	opts := &MigrateOptions{Factory: f}

	cmd := &cobra.Command{
		Use:   "migrate [flags]",
		Short: "Apply or check the development schema",
		Long: `Apply the development schema to DATABASE_URL, or with --check list the tables
and columns the workers use that the database lacks.

Migrations apply to the first schema of the connection's search_path, in one
transaction, and are recorded in nimara_schema_migrations, so running migrate again
changes nothing. --check changes nothing and exits 1 when something is missing.

With --json, migrate prints {"applied": [...]}, and migrate --check prints
{"missing": [...]}, where a missing table has an empty column.`,
		Example: `  # Create the tables on a development database
  $ nimara migrate --database-url postgres://postgres@127.0.0.1:5432/crm_dev

  # Verify a production database
  $ nimara migrate --check`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runMigrate(cmd.Context(), opts)
		},
	}

	cmd.Flags().BoolVar(&opts.Check, "check", false,
		"list missing tables and columns instead of migrating; exit 1 if any")
	addJSONFlag(cmd, &opts.JSON, "applied (version, name), or with --check missing "+
		"(table, column)")
	return cmd
}

func runMigrate(ctx context.Context, opts *MigrateOptions) error {
	cfg, err := opts.Factory.Config()
	if err != nil {
		return err
	}

	pool, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()

	if opts.Check {
		return runMigrateCheck(ctx, opts, pool)
	}

	applied, err := store.Migrate(ctx, pool)
	if err != nil {
		return err
	}
	if opts.JSON {
		rows := make([]migrationRow, len(applied))
		for i, m := range applied {
			rows[i] = migrationRow{Version: m.Version, Name: m.Name}
		}
		return printJSON(opts.Factory, map[string]any{"applied": rows})
	}

	out := opts.Factory.Out
	for _, m := range applied {
		fmt.Fprintf(out, "Applied migration %d_%s\n", m.Version, m.Name)
	}
	if len(applied) == 0 {
		fmt.Fprintln(out, "Schema is up to date")
	}
	return nil
}

// runMigrateCheck prints the tables and columns the schema lacks. When there are any, it
// returns an error that makes Main exit 1.
func runMigrateCheck(ctx context.Context, opts *MigrateOptions, db store.Querier) error {
	missing, err := store.Check(ctx, db)
	if err != nil {
		return err
	}

	out := opts.Factory.Out
	if opts.JSON {
		rows := make([]missingRow, len(missing))
		for i, m := range missing {
			rows[i] = missingRow{Table: m.Table, Column: m.Column}
		}
		if err := printJSON(opts.Factory, map[string]any{"missing": rows}); err != nil {
			return err
		}
	} else {
		for _, m := range missing {
			fmt.Fprintf(out, "missing %s\n", m)
		}
	}

	if len(missing) > 0 {
		fmt.Fprintf(opts.Factory.ErrOut, "%d tables or columns are missing: "+
			"run nimara migrate on a development database, or add them in the app\n",
			len(missing))
		return &exitCodeError{code: exitError}
	}
	if !opts.JSON {
		fmt.Fprintln(out, "Schema has every table and column the workers use")
	}
	return nil
}
