package main

import (
	"context"
	"errors"

	"github.com/spf13/pflag"

	"github.com/trailsift/trailsift/query"
)

// storeSource is where a read command finds the events: a DuckDB case
// database (--db). Every read command opens its store through it, so a new
// kind of store reaches all of them at once.
type storeSource struct {
	db string
}

func (s *storeSource) AddFlags(f *pflag.FlagSet) {
	f.StringVar(&s.db, "db", "trailsift.duckdb", "DuckDB database made by trailsift ingest (opened read-only)")
}

// open opens the store read-only. A missing store is a usage error: the
// user named the wrong file or has not ingested yet.
func (s *storeSource) open(ctx context.Context) (*query.Store, error) {
	store, err := query.Open(ctx, s.db, true)
	if errors.Is(err, query.ErrNoStore) {
		return nil, &usageError{err.Error()}
	}
	return store, err
}
