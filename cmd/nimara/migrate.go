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
changes nothing. --check changes nothing and exits 1 when something is missing.`,
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

	out := opts.Factory.Out
	if opts.Check {
		missing, err := store.Check(ctx, pool)
		if err != nil {
			return err
		}
		for _, m := range missing {
			fmt.Fprintf(out, "missing %s\n", m)
		}
		if len(missing) > 0 {
			fmt.Fprintf(opts.Factory.ErrOut, "%d tables or columns are missing: "+
				"run nimara migrate on a development database, or add them in the app\n",
				len(missing))
			return &exitCodeError{code: exitError}
		}
		fmt.Fprintln(out, "Schema has every table and column the workers use")
		return nil
	}

	applied, err := store.Migrate(ctx, pool)
	if err != nil {
		return err
	}
	for _, m := range applied {
		fmt.Fprintf(out, "Applied migration %d_%s\n", m.Version, m.Name)
	}
	if len(applied) == 0 {
		fmt.Fprintln(out, "Schema is up to date")
	}
	return nil
}
