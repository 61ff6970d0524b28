// Package storetest gives each test its own PostgreSQL schema, so tests that commit can share
// one server and run in parallel.
//
// The server comes from TEST_DATABASE_URL, then DATABASE_URL, and defaults to
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable. Tests fail when the server
// cannot be reached. Production code never imports this package.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/portnimara/nimara/store"
)

// DefaultURL is the server used when neither TEST_DATABASE_URL nor DATABASE_URL is set.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// BaseURL returns the server URL the helpers connect to.
func BaseURL() string {
	for _, name := range []string{"TEST_DATABASE_URL", "DATABASE_URL"} {
		if v := os.Getenv(name); v != "" {
			return v
		}
	}
	return DefaultURL
}

// DB is an empty schema created for one test.
type DB struct {
	// Schema is the schema's name, t_<16 hex digits>.
	Schema string
	// URL is BaseURL with search_path set to Schema, for code that opens its own pool.
	URL string
	// Pool is a pool whose connections use Schema as their search_path.
	Pool *pgxpool.Pool
}

// NewSchema creates an empty schema and a pool that uses it. When the test ends, the pool
// is closed and the schema is dropped with everything in it.
func NewSchema(t testing.TB) *DB {
	t.Helper()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	schema := "t_" + randomHex(t)
	admin, err := pgx.Connect(ctx, BaseURL())
	if err != nil {
		t.Fatalf("storetest: connect to PostgreSQL (set TEST_DATABASE_URL): %v", err)
	}
	defer admin.Close(ctx)

	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("storetest: create schema %s: %v", schema, err)
	}
	t.Cleanup(func() { dropSchema(t, schema) })

	schemaURL, err := withSearchPath(BaseURL(), schema)
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}

	pool, err := store.Open(ctx, schemaURL)
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	t.Cleanup(pool.Close)

	return &DB{Schema: schema, URL: schemaURL, Pool: pool}
}

// NewMigratedSchema is NewSchema followed by store.Migrate.
func NewMigratedSchema(t testing.TB) *DB {
	t.Helper()

	db := NewSchema(t)
	if _, err := store.Migrate(context.Background(), db.Pool); err != nil {
		t.Fatalf("storetest: migrate schema %s: %v", db.Schema, err)
	}
	return db
}

// withSearchPath adds search_path to a postgres:// URL; pgx sends unknown URL parameters
// to the server as run-time parameters.
func withSearchPath(base, schema string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

func dropSchema(t testing.TB, schema string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	conn, err := pgx.Connect(ctx, BaseURL())
	if err != nil {
		t.Errorf("storetest: drop schema %s: %v", schema, err)
		return
	}
	defer conn.Close(ctx)

	if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
		t.Errorf("storetest: drop schema %s: %v", schema, err)
	}
}

func randomHex(t testing.TB) string {
	t.Helper()

	var buf [8]byte
	if _, err := rand.Read(buf[:]); err != nil {
		t.Fatalf("storetest: read random bytes: %v", err)
	}
	return hex.EncodeToString(buf[:])
}
