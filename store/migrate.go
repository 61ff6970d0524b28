package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// MigrationsTable records which migrations have been applied to a schema.
const MigrationsTable = "nimara_schema_migrations"

// migrationName matches migration file names: a version number, an underscore and a name.
var migrationName = regexp.MustCompile(`^(\d+)_([a-z0-9_]+)\.sql$`)

// Migration is one embedded SQL file.
type Migration struct {
	// Version orders the migrations; it is the number that starts the file name.
	Version int
	// Name is the rest of the file name, without the .sql extension.
	Name string
	// SQL is the file's text, run as one simple-protocol batch.
	SQL string
}

// TxBeginner starts transactions; *pgxpool.Pool and *pgx.Conn satisfy it.
type TxBeginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Migrations returns the embedded migrations sorted by version.
func Migrations() ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("read embedded migrations: %w", err)
	}

	var out []Migration
	seen := map[int]string{}
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration file %s: name must be <version>_<name>.sql",
				e.Name())
		}

		version, err := strconv.Atoi(m[1])
		if err != nil {
			return nil, fmt.Errorf("migration file %s: invalid version: %w", e.Name(), err)
		}
		if other, dup := seen[version]; dup {
			return nil, fmt.Errorf("migration files %s and %s share version %d", other,
				e.Name(), version)
		}
		seen[version] = e.Name()

		body, err := migrationFiles.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		out = append(out, Migration{Version: version, Name: m[2], SQL: string(body)})
	}

	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Migrate applies the migrations that the current schema (the first schema of the
// search_path) has not recorded in nimara_schema_migrations, in version order, and returns
// the ones it applied. Everything runs in one transaction, so a failing migration leaves
// the schema unchanged. A transaction-scoped advisory lock per schema makes concurrent runs
// wait for each other, so running Migrate twice is safe.
func Migrate(ctx context.Context, db TxBeginner) ([]Migration, error) {
	migrations, err := Migrations()
	if err != nil {
		return nil, err
	}

	tx, err := db.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin migration transaction: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()

	const lock = `SELECT pg_advisory_xact_lock(hashtext('nimara_migrate:' || current_schema()))`
	if _, err := tx.Exec(ctx, lock); err != nil {
		return nil, fmt.Errorf("take migration lock: %w", err)
	}

	const createTable = `CREATE TABLE IF NOT EXISTS ` + MigrationsTable + ` (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`
	if _, err := tx.Exec(ctx, createTable); err != nil {
		return nil, fmt.Errorf("create %s: %w", MigrationsTable, err)
	}

	applied, err := appliedVersions(ctx, tx)
	if err != nil {
		return nil, err
	}

	var done []Migration
	for _, m := range migrations {
		if applied[m.Version] {
			continue
		}

		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return nil, fmt.Errorf("apply migration %d_%s: %w", m.Version, m.Name, err)
		}

		const record = `INSERT INTO ` + MigrationsTable + ` (version, name) VALUES ($1, $2)`
		if _, err := tx.Exec(ctx, record, m.Version, m.Name); err != nil {
			return nil, fmt.Errorf("record migration %d_%s: %w", m.Version, m.Name, err)
		}
		done = append(done, m)
	}

	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("commit migrations: %w", err)
	}
	return done, nil
}

func appliedVersions(ctx context.Context, tx pgx.Tx) (map[int]bool, error) {
	rows, err := tx.Query(ctx, `SELECT version FROM `+MigrationsTable)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", MigrationsTable, err)
	}

	versions, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", MigrationsTable, err)
	}

	applied := make(map[int]bool, len(versions))
	for _, v := range versions {
		applied[int(v)] = true
	}
	return applied, nil
}
