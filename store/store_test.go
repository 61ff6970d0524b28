package store_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/portnimara/nimara/store"
	"github.com/portnimara/nimara/store/storetest"
)

func TestMigrations_SortedAndNamed(t *testing.T) {
	t.Parallel()

	migrations, err := store.Migrations()
	if err != nil {
		t.Fatalf("Migrations() error = %v", err)
	}
	if len(migrations) == 0 {
		t.Fatal("Migrations() returned none, want the embedded files")
	}
	if migrations[0].Version != 1 || migrations[0].Name != "crm_tables" {
		t.Errorf("first migration = %d_%s, want 1_crm_tables", migrations[0].Version,
			migrations[0].Name)
	}
	for i := 1; i < len(migrations); i++ {
		if migrations[i].Version <= migrations[i-1].Version {
			t.Errorf("migration %d has version %d after %d", i, migrations[i].Version,
				migrations[i-1].Version)
		}
	}
}

func TestMigrate_CreatesRequiredTables(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	db := storetest.NewSchema(t)

	applied, err := store.Migrate(ctx, db.Pool)
	if err != nil {
		t.Fatalf("Migrate() error = %v", err)
	}
	all, _ := store.Migrations()
	if len(applied) != len(all) {
		t.Errorf("Migrate() applied %d migrations, want %d", len(applied), len(all))
	}

	missing, err := store.Check(ctx, db.Pool)
	if err != nil {
		t.Fatalf("Check() error = %v", err)
	}
	if len(missing) != 0 {
		t.Errorf("Check() after Migrate = %v, want nothing missing", missing)
	}

	// The tables belong to the test schema, not to public.
	var count int
	err = db.Pool.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables
		WHERE table_schema = $1 AND table_name = 'notifications'`, db.Schema).Scan(&count)
	if err != nil {
		t.Fatalf("count tables: %v", err)
	}
	if count != 1 {
		t.Errorf("notifications tables in schema %s = %d, want 1", db.Schema, count)
	}
}

func TestMigrate_SecondRunAppliesNothing(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	db := storetest.NewMigratedSchema(t)

	applied, err := store.Migrate(ctx, db.Pool)
	if err != nil {
		t.Fatalf("second Migrate() error = %v", err)
	}
	if len(applied) != 0 {
		t.Errorf("second Migrate() applied %d migrations, want 0", len(applied))
	}

	all, _ := store.Migrations()
	var recorded int
	if err := db.Pool.QueryRow(ctx, "SELECT count(*) FROM "+store.MigrationsTable).
		Scan(&recorded); err != nil {
		t.Fatalf("count recorded migrations: %v", err)
	}
	if recorded != len(all) {
		t.Errorf("%s has %d rows, want %d", store.MigrationsTable, recorded, len(all))
	}
}

func TestMigrate_ConcurrentRunsApplyOnce(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	db := storetest.NewSchema(t)

	const runs = 4
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total int
		errs  []error
	)
	for range runs {
		wg.Go(func() {
			applied, err := store.Migrate(ctx, db.Pool)

			mu.Lock()
			defer mu.Unlock()
			total += len(applied)
			if err != nil {
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()

	if len(errs) != 0 {
		t.Fatalf("concurrent Migrate() errors: %v", errs)
	}
	all, _ := store.Migrations()
	if total != len(all) {
		t.Errorf("%d concurrent runs applied %d migrations in total, want %d", runs, total,
			len(all))
	}
}

func TestCheck_EmptySchemaMissesEveryTable(t *testing.T) {
	t.Parallel()

	db := storetest.NewSchema(t)

	missing, err := store.Check(context.Background(), db.Pool)
	if err != nil {
		t.Fatalf("Check() error = %v", err)
	}
	if len(missing) != len(store.RequiredTables) {
		t.Fatalf("Check() on an empty schema reported %d items, want %d tables: %v",
			len(missing), len(store.RequiredTables), missing)
	}
	for i, m := range missing {
		if m.Column != "" {
			t.Errorf("missing[%d] = %v, want a whole table", i, m)
		}
		if m.Table != store.RequiredTables[i].Name {
			t.Errorf("missing[%d].Table = %q, want %q", i, m.Table, store.RequiredTables[i].Name)
		}
	}
}

func TestCheck_ReportsDroppedTableAndColumn(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	db := storetest.NewMigratedSchema(t)

	_, err := db.Pool.Exec(ctx, `ALTER TABLE notifications DROP COLUMN dedupe_key;
		DROP TABLE exchange_rates`)
	if err != nil {
		t.Fatalf("alter schema: %v", err)
	}

	missing, err := store.Check(ctx, db.Pool)
	if err != nil {
		t.Fatalf("Check() error = %v", err)
	}
	want := []store.Missing{
		{Table: "notifications", Column: "dedupe_key"},
		{Table: "exchange_rates"},
	}
	if !slices.Equal(missing, want) {
		t.Errorf("Check() = %v, want %v", missing, want)
	}
}

func TestMissing_String(t *testing.T) {
	t.Parallel()

	if got := (store.Missing{Table: "files"}).String(); got != "table files" {
		t.Errorf("String() = %q, want %q", got, "table files")
	}
	got := (store.Missing{Table: "files", Column: "sha256"}).String()
	if got != "column files.sha256" {
		t.Errorf("String() = %q, want %q", got, "column files.sha256")
	}
}

func TestRequiredTables_NoDuplicates(t *testing.T) {
	t.Parallel()

	tables := map[string]bool{}
	for _, table := range store.RequiredTables {
		if tables[table.Name] {
			t.Errorf("table %s is listed twice", table.Name)
		}
		tables[table.Name] = true

		columns := map[string]bool{}
		for _, c := range table.Columns {
			if columns[c] {
				t.Errorf("column %s.%s is listed twice", table.Name, c)
			}
			columns[c] = true
		}
	}
}

func TestOpen_InvalidURLHidesPassword(t *testing.T) {
	t.Parallel()

	_, err := store.Open(context.Background(),
		"postgres://u:hunter2@127.0.0.1:5432/db?sslmode=bogus")
	if err == nil {
		t.Fatal("Open() with sslmode=bogus = nil error, want an error")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Open() error = %q, which contains the password", err)
	}
}

func TestOpen_UnreachableServer(t *testing.T) {
	t.Parallel()

	// Port 1 on the loopback interface has no listener, so the connection is refused.
	_, err := store.Open(context.Background(),
		"postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2")
	if err == nil {
		t.Fatal("Open() of 127.0.0.1:1 = nil error, want a connection error")
	}
	if !strings.Contains(err.Error(), "connect to PostgreSQL at 127.0.0.1:1") {
		t.Errorf("Open() error = %q, want it to name the server", err)
	}
}

func TestOpen_SessionTimeZoneIsUTC(t *testing.T) {
	t.Parallel()

	db := storetest.NewSchema(t)

	var tz string
	if err := db.Pool.QueryRow(context.Background(), "SHOW timezone").Scan(&tz); err != nil {
		t.Fatalf("SHOW timezone: %v", err)
	}
	if tz != "UTC" {
		t.Errorf("session timezone = %q, want UTC", tz)
	}
}
