// Package store connects to the CRM's PostgreSQL database and manages the development
// schema: Open builds a pgx pool, Migrate applies the embedded migrations, and Check compares
// the live database with the tables and columns the workers need.
//
// The Node app owns the production schema. Migrate exists for development and tests, and
// Check (nimara migrate --check) verifies that a production database has what the workers use.
package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Open returns a pool for databaseURL (a postgres:// URL or a keyword/value string) after
// a ping succeeds. Sessions use the UTC time zone, so timestamp columns
// without time zone (the Better Auth tables) compare with now() as UTC wall-clock times.
func Open(ctx context.Context, databaseURL string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		// The pgx parse error may quote the URL, password included, so it is left out.
		return nil, fmt.Errorf("invalid database URL: check its syntax")
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["timezone"]; !ok {
		cfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	}

	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("create database pool: %w", err)
	}

	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to PostgreSQL at %s:%d: %w", cfg.ConnConfig.Host,
			cfg.ConnConfig.Port, err)
	}
	return pool, nil
}
